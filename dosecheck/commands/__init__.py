"""The CLI's commands, one module each (``check``, ``report``, ``batch``/``results``,
``constraints``), registered by :mod:`dosecheck.cli`; shared options in
:mod:`~dosecheck.commands.options`, the check both ``check`` and ``report`` run in
:mod:`~dosecheck.commands._run`. Commands parse options, call down and print."""
