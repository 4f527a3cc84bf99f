"""Named mutants of the derivative engine (rules, vec rules, simplifier, constructors, driver).

Each line changes one thing a wrong answer could come from (a dropped transpose, a swapped
Kronecker or commutation order, a lost factor, a rewrite without its side condition); the fast
tests must fail on every one. Run from the repository root:

    PYTHONPATH=$PWD python bench/mutants_calculus.py          # all
    PYTHONPATH=$PWD python bench/mutants_calculus.py 12 21    # some, by index

Equivalent mutants (same function, so no test can kill them), kept to show they were tried:
12 and 21 swap the two factors of Σⱼ X⁻⁽ʲ⁺¹⁾ dX X⁻⁽ᵖ⁻ʲ⁾ (reindexing j → p−1−j gives the same
sum); 26 replaces (𝟙 ⊗ I) by (I ⊗ 𝟙) in d vec(diag(x)), and both put xᵢ at every diagonal
position that diag(vec I) keeps.
"""
import subprocess
import sys
R, V, S, Bd, D = "matcalc/calculus/rules.py", "matcalc/calculus/vecrules.py", "matcalc/simplify/rewrite.py", "matcalc/core/build.py", "matcalc/calculus/derive.py"
MUT = [
 (R, "        return reduce_broadcast(G, node)\n    return G", "        return G\n    return G"),
 (R, "        return G\n    return B.transpose(G)", "        return G\n    return G if G.shape[0] == G.shape[1] else B.transpose(G)"),
 (R, "    return B.mul(G, B.ones(node.arg.shape), B.inverse(count))", "    return B.mul(G, B.ones(node.arg.shape))"),
 (R, "    return B.mul(G, B.identity(node.arg.shape[0]))", "    return B.mul(G, B.ones(node.arg.shape))"),
 (R, "    before = [B.transpose(f) for _, f in reversed(chain[:pos])]", "    before = [B.transpose(f) if f.shape[0] != f.shape[1] else f for _, f in reversed(chain[:pos])]"),
 (R, "    local = B.hdiv(B.num(1), b) if i == 0 else B.neg(B.hdiv(a, B.hpow(b, 2)))", "    local = B.hdiv(B.num(1), b) if i == 0 else B.hdiv(a, B.hpow(b, 2))"),
 (R, "        return B.mul(B.kron(B.identity(a.shape[0]), B.transpose(b)), G)", "        return B.mul(B.kron(B.transpose(b), B.identity(a.shape[0])), G)"),
 (R, "            mask = B.kron(B.ones((m, n)), b)", "            mask = B.kron(b, B.ones((m, n)))"),
 (R, "            right = B.kron(B.ones((n, ONE)), B.identity(q))", "            right = B.kron(B.identity(q), B.ones((n, ONE)))"),
 (R, "            return B.mul(G, B.transpose(b)) if i == 0 else B.mul(B.transpose(a), G)", "            return B.mul(G, B.transpose(b)) if i == 0 else B.mul(B.transpose(a), G, B.num(2))"),
 (R, "        return B.mul(G, B.kron(B.transpose(a), B.identity(b.shape[1])))", "        return B.mul(G, B.kron(B.identity(b.shape[1]), B.transpose(a)))"),
 (R, "    inv_t = B.transpose(node)\n", "    inv_t = node\n"),
 (R, "    terms = [B.mul(B.transpose(B.power(x, -(j + 1))), G, B.transpose(B.power(x, -(p - j))))", "    terms = [B.mul(B.transpose(B.power(x, -(p - j))), G, B.transpose(B.power(x, -(j + 1))))"),
 (R, "    return B.mul(G, node, B.transpose(B.inverse(node.arg)))", "    return B.mul(G, B.transpose(B.inverse(node.arg)))"),
 (R, "    return B.mul(G, B.transpose(B.inverse(node.arg)))\n\n\n@derivative(E.Norm)", "    return B.mul(G, B.inverse(node.arg))\n\n\n@derivative(E.Norm)"),
 (R, "    return B.mul(G, node.arg, B.inverse(node))", "    return B.mul(G, node.arg)"),
 (R, "    return B.sub(scale_rows(s, G, node), B.mul(s, B.mul(B.transpose(s), G)))", "    return scale_rows(s, G, node)"),
 (R, "    local = B.mul(B.num(node.exponent), B.hpow(node.arg, node.exponent - 1))", "    local = B.hpow(node.arg, node.exponent - 1)"),
 (V, "    return B.mul(B.commutation(a.shape[0], a.shape[1]), Js[0])", "    return B.mul(B.commutation(a.shape[1], a.shape[0]), Js[0])"),
 (V, "    shuffle = B.kron(B.kron(_eye(n), B.commutation(q, m)), _eye(p))", "    shuffle = B.kron(B.kron(_eye(n), B.commutation(m, q)), _eye(p))"),
 (V, "    return B.neg(B.mul(B.kron(B.transpose(node), node), Js[0]))", "    return B.neg(B.mul(B.kron(node, node), Js[0]))"),
 (V, "    terms = [B.kron(B.transpose(B.power(x, -(p - j))), B.power(x, -(j + 1))) for j in range(p)]", "    terms = [B.kron(B.transpose(B.power(x, -(j + 1))), B.power(x, -(p - j))) for j in range(p)]"),
 (V, "    return B.mul(node, _row(B.transpose(B.inverse(node.arg))), Js[0])", "    return B.mul(_row(B.transpose(B.inverse(node.arg))), Js[0])"),
 (V, "    return B.mul(_row(B.transpose(B.inverse(node.arg))), Js[0])\n\n\n@vec_rule(E.Norm)", "    return B.mul(_row(B.inverse(node.arg)), Js[0])\n\n\n@vec_rule(E.Norm)"),
 (V, "    terms = [B.kron(B.power(B.transpose(x), k - 1 - j), B.power(x, j)) for j in range(k)]", "    terms = [B.kron(B.power(x, k - 1 - j), B.power(x, j)) for j in range(k)]"),
 (V, "        terms.append(B.mul(*scal, B.kron(B.transpose(Q), P), J))", "        terms.append(B.mul(*scal, B.kron(Q, P), J) if Q.shape[0] == Q.shape[1] else B.mul(*scal, B.kron(B.transpose(Q), P), J))"),
 (V, "    select = B.mul(B.diag_mat(B.vec(B.identity(n))), B.kron(B.ones((n, ONE)), _eye(n)))", "    select = B.mul(B.diag_mat(B.vec(B.identity(n))), B.kron(_eye(n), B.ones((n, ONE))))"),
 (V, "    return B.mul(B.sub(B.diag_mat(s), B.mul(s, B.transpose(s))), Js[0])", "    return B.mul(B.diag_mat(s), Js[0])"),
 (S, "        return B.mul(*scal, *(B.transpose(f) for f in reversed(chain)))", "        return B.mul(*scal, *(B.transpose(f) for f in chain)) if all(f.shape[0] == f.shape[1] for f in chain) else B.mul(*scal, *(B.transpose(f) for f in reversed(chain)))"),
 (S, "            return B.mul(*(B.inverse(f) for f in reversed(fs)))", "            return B.mul(*(B.inverse(f) for f in fs))"),
 (S, "    return ta == tb and ma == mb and ia != ib", "    return ma == mb and ia != ib"),
 (S, "            return B.mul(*scal, B.hadamard(chain[0], B.transpose(chain[1])))", "            return B.hadamard(chain[0], B.transpose(chain[1]))"),
 (S, "            return B.kron(B.mul(p.left, q.left), B.mul(p.right, q.right))", "            return B.kron(B.mul(p.left, q.left), B.mul(q.right, p.right)) if p.right.shape[0] == p.right.shape[1] == q.right.shape[1] else B.kron(B.mul(p.left, q.left), B.mul(p.right, q.right))"),
 (S, "            return B.vec(B.mul(k.right, v.arg, B.transpose(k.left)))", "            return B.vec(B.mul(k.right, v.arg, k.left)) if k.left.shape[0] == k.left.shape[1] else B.vec(B.mul(k.right, v.arg, B.transpose(k.left)))"),
 (S, "        if tuple(v.arg.shape) == dims:", "        if True:"),
 (S, "    if type(node) is E.Trace and type(node.arg) is E.Kron and _square(node.arg.left) and \\\n            _square(node.arg.right):", "    if type(node) is E.Trace and type(node.arg) is E.Kron:"),
 (S, "            return B.apply(\"sigmoid\", B.neg(a))", "            return B.apply(\"sigmoid\", a)"),
 (S, "                merged = B.kron(B.hadamard(p.left, q.left), B.hadamard(p.right, q.right))", "                merged = B.kron(B.hadamard(p.left, q.left), p.right)"),
 (S, "            return B.kron(B.mul(a.left, b), a.right)", "            return B.kron(a.right, B.mul(a.left, b))"),
 (S, "        return B.num(1)\n    return node\n\n\ndef trace_of_kron", "        return B.num(0)\n    return node\n\n\ndef trace_of_kron"),
 (S, "        return _unpeel(ba, ea + eb) if ba == bb and ba.shape == bb.shape else None", "        return _unpeel(ba, ea + eb) if ba.shape == bb.shape and (ba == bb or type(ba) is E.Transpose) else None"),
 (S, "            elif _plain_transpose(a, ctx) != b:\n                return False", "            elif False:\n                return False"),
 (S, "        groups[key][0] += coef", "        groups[key][0] = max(groups[key][0], coef) if groups[key][0] else coef"),
 (S, "    if all(c < 0 for c in coefs):\n        g = -g", "    if any(c < 0 for c in coefs):\n        g = -g"),
 (Bd, "    return outer.denominator == 1 or not (inner.denominator == 1 and inner.numerator % 2 == 0)", "    return True"),
 (Bd, "    if m == 1 or n == 1:\n        return identity(m * n)\n    return _make(E.Commutation, m, n)", "    return identity(m * n)"),
 (Bd, "    return trace(mul(transpose(a), b))", "    return trace(mul(a, b)) if a.shape[0] == a.shape[1] else trace(mul(transpose(a), b))"),
 (D, "        current = run_simplify(d, ctx if last else Context()) if simplify else d", "        current = run_simplify(d, ctx) if simplify else d"),
 (D, "                return (J if f.shape[1] == 1 else B.transpose(J)), \"derivative\"\n            return J, \"jacobian\"", "                return J, \"derivative\"\n            return J, \"jacobian\""),
 (D, "    current, kind, previous = rebuild_all(f, long=LONG_CHAIN), None, f", "    current, kind, previous = f, None, f"),
]
tests = ["tests/test_derive.py", "tests/test_higher.py", "tests/test_golden.py", "tests/test_identities.py",
         "tests/test_simplify.py", "tests/test_trust_calculus.py"]
only = sys.argv[1:] and [int(a) for a in sys.argv[1:]]
survivors = []
for i, (path, old, new) in enumerate(MUT):
    if only and i not in only: continue
    src = open(path).read()
    if src.count(old) != 1:
        print(i, "PATTERN", src.count(old), old[:60]); continue
    open(path, "w").write(src.replace(old, new))
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-k", "not property", "-p", "no:cacheprovider", *tests],
                             capture_output=True, text=True, timeout=600)
        last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-200:]
        killed = out.returncode != 0
        print(i, "KILLED  " if killed else "SURVIVED", path, new.strip()[:70].replace("\n", " "), "|", last[:60], flush=True)
        if not killed: survivors.append(i)
    finally:
        open(path, "w").write(src)
EQUIVALENT = {12, 21, 26}
print("survivors", survivors, "equivalent", sorted(EQUIVALENT & set(survivors)),
      "to kill", sorted(set(survivors) - EQUIVALENT))
