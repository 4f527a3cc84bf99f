"""Run inside the tensorgrad bench environment (bench/run_all.sh makes it): the gradient wrt W_1
of sum((tanh(W_L … tanh(W_1 x)) − y)²), square W_i, by tensorgrad 0.3.0 — derivation
(`grad`) and its simplification (`full_simplify`), with a time limit. Prints one JSON line.

    bench/.tgenv/bin/python bench/tensorgrad_depth.py L [limit_seconds]
"""
import json
import signal
import sys
import time


def main():
    L = int(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    import sympy
    import tensorgrad as tg
    import tensorgrad.functions as F

    n = sympy.Symbol("n")
    x, y = tg.Variable("x", {"i": n}), tg.Variable("y", {"i": n})
    Ws = [tg.Variable(f"W{k}", {"o": n, "i": n}) for k in range(1, L + 1)]
    h = x
    for W in Ws:
        h = F.tanh((W @ h).rename(o="i"))
    loss = F.sum((h - y) * (h - y))

    def alarm(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)
    t = time.perf_counter()
    try:
        g = loss.grad(Ws[0]).full_simplify()
    except TimeoutError:
        print(json.dumps({"L": L, "timeout": limit}))
        return
    finally:
        signal.alarm(0)
    dt = time.perf_counter() - t
    print(json.dumps({"L": L, "seconds": dt, "size": len(str(g))}))


if __name__ == "__main__":
    main()
