"""`python -m matcalc` is the `matcalc` command."""
try:
    from .cli import main
except KeyboardInterrupt:           # Ctrl-C while starting: exit as interrupted, no traceback
    raise SystemExit(130)

raise SystemExit(main())
