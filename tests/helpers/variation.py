"""A constraint set with variation bands for the box plans (V45Gy = 51 cc on the
bowel bag of ``LONG_BOWEL_PASS`` / the ``("long", "pass")`` batch plan)."""

from __future__ import annotations

#: Bag_Bowel V45Gy[cc]: goal < 50, variation < 55 → variation (51 cc); < 60 → pass.
VARIATION_SET = """\
name: variation bands
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag, Bowel bag]
    constraints:
      - V45Gy[cc] < 50 (variation 55)
      - V45Gy[cc] < 60
"""

#: As :data:`VARIATION_SET` plus a plain failure: goal < 40, variation < 45 → fail.
VARIATION_AND_FAIL_SET = (
    VARIATION_SET + '      - {metric: "V45Gy[cc]", op: "<", limit: 40, variation: 45}\n'
)
