"""Print every derivative of the identity and golden tables (Unicode | text | LaTeX), one line
each: run under the real code and under a printer mutant (probe.py) and diff the two outputs
to see whether any result the tests know prints differently."""
import sys
sys.path.insert(0, "tests")
import test_golden
import test_identities
from matcalc import derive

rows = [p.values[:3] + (p.values[-1] if len(p.values) > 4 else 1,) for p in test_identities.TABLE]
rows += [(p.values[0], p.values[1], p.values[2], p.values[5]) for p in test_golden.GOLDEN]
for expr, wrt, shapes, order in rows:
    try:
        r = derive(expr, wrt=wrt, shapes=shapes, order=order if isinstance(order, int) else 1)
        print(f"{expr} | {r} | {r.text} | {r.latex}")
    except Exception as ex:                     # noqa: BLE001 - a listing, not a test
        print(f"{expr} | ERROR {type(ex).__name__}")
