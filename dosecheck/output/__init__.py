"""Text for terminals and machines: check and DVH results as table, JSON, CSV, JUnit
or Markdown (:mod:`~dosecheck.output.check_formats`, :mod:`~dosecheck.output.dvh_formats`),
written to stdout or atomically to a file (:mod:`~dosecheck.output.write`)."""
