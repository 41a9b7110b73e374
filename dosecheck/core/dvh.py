"""The :class:`DVH` object: a cumulative dose-volume histogram and its metrics.

The histogram is stored as the cumulative volume ``V(>= d)`` at equally spaced dose
edges ``d_i = i * bin_width``. Between edges the curve is linear, which is exact for
the engine's model (dose linear in z within each segment, see
:mod:`dosecheck.core.engine`) up to in-plane sampling. ``V(d)`` and ``D(v)`` are read
by linear interpolation on that curve; ``D`` at the whole volume is the exact minimum
and ``D`` at zero volume the exact maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dosecheck.core.arrays import unique_values
from dosecheck.errors import MetricDomainError


@dataclass(frozen=True, eq=False)
class DVH:
    """A cumulative DVH of one structure.

    Attributes
    ----------
    dose_edges_gy
        Ascending dose values (Gy) starting at 0, uniformly spaced.
    cumulative_cc
        Volume (cc) receiving at least ``dose_edges_gy[i]``; non-increasing,
        ``cumulative_cc[0] == volume_cc``.
    volume_cc
        Volume of the structure inside the dose grid (cc).
    min_gy, mean_gy, max_gy
        Exact statistics of the sampled dose (Gy); ``nan`` for an empty DVH.
    outside_grid_cc
        Volume of the structure outside the dose grid (cc), not in the histogram.
    name
        Structure name, for messages.
    warnings
        Anything the user must know about this DVH.
    """

    dose_edges_gy: np.ndarray
    cumulative_cc: np.ndarray
    volume_cc: float
    min_gy: float
    mean_gy: float
    max_gy: float
    outside_grid_cc: float = 0.0
    name: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def bin_width_gy(self) -> float:
        e = self.dose_edges_gy
        return float(e[1] - e[0]) if e.size > 1 else 0.0

    @property
    def is_empty(self) -> bool:
        return not self.volume_cc > 0.0

    def _require_volume(self, what: str) -> None:
        if self.is_empty:
            raise MetricDomainError(
                f"{what} is undefined: structure {self.name!r} has no volume inside the dose grid"
            )

    # --- volume at dose -----------------------------------------------------------
    def volume_at_dose(self, dose_gy: float) -> float:
        """Volume (cc) receiving at least ``dose_gy``."""
        self._require_volume(f"V{dose_gy:g}Gy")
        if dose_gy <= self.min_gy:
            return self.volume_cc
        if dose_gy > self.max_gy:
            return 0.0
        return float(np.interp(dose_gy, self.dose_edges_gy, self.cumulative_cc, right=0.0))

    def volume_percent_at_dose(self, dose_gy: float) -> float:
        """Percentage of the structure volume receiving at least ``dose_gy``."""
        return 100.0 * self.volume_at_dose(dose_gy) / self.volume_cc

    # --- dose at volume -----------------------------------------------------------
    def dose_at_volume(self, volume_cc: float) -> float:
        """Minimum dose (Gy) received by the hottest ``volume_cc`` of the structure.

        Raises
        ------
        MetricDomainError
            If ``volume_cc`` is negative or exceeds the structure volume.
        """
        self._require_volume(f"D{volume_cc:g}cc")
        total = self.volume_cc
        if volume_cc < 0:
            raise MetricDomainError(f"D at a negative volume ({volume_cc:g} cc) is undefined")
        if volume_cc > total * (1 + 1e-9):
            raise MetricDomainError(
                f"D{volume_cc:g}cc is undefined: structure {self.name!r} is only "
                f"{total:.3f} cc inside the dose grid"
            )
        if volume_cc >= total:
            return self.min_gy
        if volume_cc <= 0:
            return self.max_gy
        cum = self.cumulative_cc
        # Largest edge index i with cum[i] >= volume_cc (cum is non-increasing).
        i = int(np.searchsorted(-cum, -volume_cc, side="right")) - 1
        if i >= cum.size - 1:
            return float(self.dose_edges_gy[-1])
        v0, v1 = cum[i], cum[i + 1]
        d0 = self.dose_edges_gy[i]
        if v0 <= v1:  # flat: no volume in this bin
            d = d0
        else:
            d = d0 + (v0 - volume_cc) / (v0 - v1) * self.bin_width_gy
        return float(min(max(d, self.min_gy), self.max_gy))

    def dose_at_volume_percent(self, percent: float) -> float:
        """Minimum dose (Gy) received by the hottest ``percent`` % of the structure."""
        self._require_volume(f"D{percent:g}%")
        if not 0.0 <= percent <= 100.0:
            raise MetricDomainError(f"D{percent:g}% is undefined: the percentage must be 0–100")
        return self.dose_at_volume(self.volume_cc * percent / 100.0)

    # --- complements (TG-263 CV and DC) ---------------------------------------------
    def complement_volume_at_dose(self, dose_gy: float) -> float:
        """Volume (cc) receiving less than ``dose_gy`` (TG-263 ``CV``)."""
        return self.volume_cc - self.volume_at_dose(dose_gy)

    def complement_dose_at_volume(self, volume_cc: float) -> float:
        """Maximum dose (Gy) to the coldest ``volume_cc`` (TG-263 ``DC``)."""
        self._require_volume(f"DC{volume_cc:g}cc")
        if volume_cc > self.volume_cc * (1 + 1e-9) or volume_cc < 0:
            raise MetricDomainError(
                f"DC{volume_cc:g}cc is undefined: structure {self.name!r} is only "
                f"{self.volume_cc:.3f} cc inside the dose grid"
            )
        return self.dose_at_volume(max(self.volume_cc - volume_cc, 0.0))

    # --- export -------------------------------------------------------------------
    def curve(self, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(dose_gy, volume_cc)`` of the cumulative curve, optionally decimated.

        Trailing zero-volume edges beyond the maximum are dropped; decimation keeps
        the first and last points.
        """
        d, v = self.dose_edges_gy, self.cumulative_cc
        n = int(np.searchsorted(-v, 0.0, side="left")) + 1  # first zero-volume edge kept
        n = min(max(n, 1), d.size)
        d, v = d[:n], v[:n]
        if max_points is not None and n > max_points:
            idx = unique_values(np.linspace(0, n - 1, max_points).round().astype(np.int64))
            d, v = d[idx], v[idx]
        return d, v

    def sampled(self, step_gy: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """``(dose_gy, volume_cc)`` of the cumulative curve every ``step_gy`` from 0 to
        just past the maximum (empty arrays for an empty DVH)."""
        if self.is_empty:
            return np.zeros(0), np.zeros(0)
        dose = np.arange(0.0, self.max_gy + step_gy, step_gy)
        return dose, np.interp(dose, self.dose_edges_gy, self.cumulative_cc, right=0.0)

    def sampled_record(self, step_gy: float = 0.1) -> dict[str, list[float]]:
        """:meth:`sampled` as the JSON outputs write a curve:
        ``{"dose_gy": [...], "volume_cc": [...]}`` (4 and 5 decimals)."""
        dose, vol = self.sampled(step_gy)
        return {
            "dose_gy": [round(float(x), 4) for x in dose],
            "volume_cc": [round(float(x), 5) for x in vol],
        }

    @classmethod
    def empty(
        cls, name: str = "", outside_grid_cc: float = 0.0, warnings: tuple[str, ...] = ()
    ) -> DVH:
        """A DVH with no volume inside the dose grid."""
        nan = float("nan")
        return cls(
            dose_edges_gy=np.zeros(1),
            cumulative_cc=np.zeros(1),
            volume_cc=0.0,
            min_gy=nan,
            mean_gy=nan,
            max_gy=nan,
            outside_grid_cc=outside_grid_cc,
            name=name,
            warnings=warnings,
        )
