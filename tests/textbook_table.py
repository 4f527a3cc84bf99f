"""The textbook table: derivatives from sources the identity and golden tables do not use —
Gaussian-process regression, Gaussian families, normalisation layers, attention, robust
regression, Rayleigh quotients and discriminants, metric learning, cosine similarity, identities
of det, tr, abs and sign, and binary cross-entropy through σ. Each row holds the form the source
prints, written in matcalc's language (tests/test_textbook.py checks it against finite
differences too, so the column is verified, not trusted).

Sources, cited by short name in the rows:
  GPML     Rasmussen & Williams, Gaussian Processes for Machine Learning (2006), §2.2, §5.4
  PRML     Bishop, Pattern Recognition and Machine Learning (2006), §2.3, §4.1, §4.3
  MCB      Petersen & Pedersen, The Matrix Cookbook (2012), §2.1–2.2
  LN       Ba, Kiros & Hinton, Layer Normalization (2016)
  RMS      Zhang & Sennrich, Root Mean Square Layer Normalization (2019)
  ATT      Vaswani et al., Attention Is All You Need (2017), scaled dot-product attention
  ROBUST   Barron, A General and Adaptive Robust Loss Function (2019); Huber (1964)
  RAYLEIGH Parlett, The Symmetric Eigenvalue Problem (1998), §1.5
  METRIC   Xing et al. (2002); Weinberger & Saul, LMNN (2009); Hadsell et al. (2006)
  COS      Manning, Raghavan & Schütze, Introduction to Information Retrieval (2008), §6.3
  DL       Goodfellow, Bengio & Courville, Deep Learning (2016), §6.2.2
"""
from __future__ import annotations

#: (expression, wrt, shapes, textbook form, source, id[, order])
ROWS = [
    # Gaussian-process regression: ½yᵀK⁻¹y + ½log det K (GPML eq. 2.30, 5.8–5.9).
    ("0.5*y^T K^-1 y + 0.5*logdet(K)", "K", "y: n, K: n×n spd",
     "0.5 (K^-1 - K^-1 y y^T K^-1)", "GPML 5.9", "gp-lml-wrt-K"),
    ("0.5*y^T K^-1 y + 0.5*logdet(K)", "y", "y: n, K: n×n spd",
     "K^-1 y", "GPML 2.30", "gp-lml-wrt-y"),
    ("0.5*y^T inv(θ*A + s*eye(n)) y + 0.5*logdet(θ*A + s*eye(n))", "θ",
     "y: n, A: n×n spd, θ: scalar, s: scalar",
     "0.5 tr(inv(θ A + s eye(n)) A) - 0.5 y^T inv(θ A + s eye(n)) A inv(θ A + s eye(n)) y",
     "GPML 5.9", "gp-lml-wrt-signal-variance"),
    ("logdet(K + s*eye(n))", "s", "K: n×n spd, s: scalar",
     "tr(inv(K + s eye(n)))", "GPML 5.9", "gp-logdet-wrt-noise"),
    ("k^T K^-1 y", "k", "k: n, K: n×n spd, y: n", "K^-1 y", "GPML 2.25", "gp-mean-wrt-kstar"),
    ("c - k^T K^-1 k", "k", "k: n, K: n×n spd, c: scalar", "-2 K^-1 k", "GPML 2.26",
     "gp-variance-wrt-kstar"),
    # Gaussian families (PRML §2.3).
    ("0.5*(x - μ)^T Λ (x - μ) - 0.5*logdet(Λ)", "Λ", "x: n, μ: n, Λ: n×n spd",
     "0.5 ((x - μ)(x - μ)^T - Λ^-1)", "PRML 2.3.4", "gaussian-nll-precision"),
    ("0.5*(x - μ)^T Λ (x - μ) - 0.5*logdet(Λ)", "μ", "x: n, μ: n, Λ: n×n spd",
     "Λ (μ - x)", "PRML 2.3.4", "gaussian-nll-precision-mean"),
    ("-0.5*(x - μ)^T Σ^-1 (x - μ)", "x", "x: n, μ: n, Σ: n×n spd",
     "Σ^-1 (μ - x)", "PRML 2.43", "gaussian-score"),
    ("0.5*n*log(v) + 0.5*‖x - μ‖^2/v", "v", "x: n, μ: n, v: scalar",
     "0.5 n/v - 0.5 ‖x - μ‖^2/v^2", "PRML 2.3.4", "isotropic-nll-variance"),
    ("0.5*(tr(inv(S) P) + (m - μ)^T inv(S) (m - μ) - logdet(P))", "P",
     "P: n×n spd, S: n×n spd, m: n, μ: n",
     "0.5 (inv(S) - inv(P))", "PRML E.q. KL(N₀‖N₁)", "gaussian-kl-covariance"),
    ("0.5*(tr(inv(S) P) + (m - μ)^T inv(S) (m - μ) - logdet(P))", "m",
     "P: n×n spd, S: n×n spd, m: n, μ: n",
     "inv(S) (m - μ)", "PRML E.q. KL(N₀‖N₁)", "gaussian-kl-mean"),
    # Normalisation layers (LN, RMS).
    ("x - mean(x)", "x", "x: n", "eye(n) - ones(n, n)/n", "LN eq. 3", "layernorm-centre"),
    ("sum(g .* (x - mean(x)))", "g", "g: n, x: n", "x - mean(x)", "LN eq. 4",
     "layernorm-gain"),
    ("x / sqrt(x^T x / n + ε)", "x", "x: n, ε: scalar",
     "(eye(n) - x x^T/(n (x^T x/n + ε)))/sqrt(x^T x/n + ε)", "RMS §4 (R)", "rmsnorm-jacobian"),
    ("g^T x / sqrt(x^T x / n + ε)", "g", "g: n, x: n, ε: scalar",
     "x/sqrt(x^T x/n + ε)", "RMS eq. 4", "rmsnorm-gain"),
    ("g^T x / sqrt(x^T x / n + ε)", "x", "g: n, x: n, ε: scalar",
     "(g - (g^T x) x/(n (x^T x/n + ε)))/sqrt(x^T x/n + ε)", "RMS §4 (R)", "rmsnorm-input"),
    ("x / ‖x‖", "x", "x: n", "(eye(n) - x x^T/(x^T x))/‖x‖", "MCB 2.6", "normalise-jacobian"),
    # Attention pieces (ATT eq. 1): scalar losses of softmax(Kq/√d).
    ("logsumexp(K q / sqrt(d))", "q", "K: m×n, q: n, d: scalar",
     "K^T softmax(K q/sqrt(d))/sqrt(d)", "ATT eq. 1", "attention-logsumexp"),
    ("v^T softmax(K q)", "q", "K: m×n, q: n, v: m",
     "K^T (diag(softmax(K q)) - softmax(K q) softmax(K q)^T) v", "ATT eq. 1",
     "attention-value-readout"),
    ("v^T softmax(K q)", "v", "K: m×n, q: n, v: m", "softmax(K q)", "ATT eq. 1",
     "attention-value-weights"),
    ("y^T log(softmax(K q / c))", "q", "K: m×n, q: n, y: m, c: scalar",
     "K^T (y - sum(y) softmax(K q/c))/c", "ATT eq. 1", "attention-log-likelihood"),
    ("‖V^T softmax(K q) - t‖^2", "V", "K: m×n, q: n, V: m×p, t: p",
     "2 softmax(K q) (V^T softmax(K q) - t)^T", "ATT eq. 1", "attention-output-loss"),
    # Robust regression (ROBUST).
    ("sum(log(cosh(X w - y)))", "w", "X: N×n, w: n, y: N", "X^T tanh(X w - y)",
     "ROBUST log-cosh", "log-cosh"),
    ("sum(log(1 + (X w - y) .^ 2))", "w", "X: N×n, w: n, y: N",
     "2 X^T ((X w - y) ./ (1 + (X w - y) .^ 2))", "ROBUST Cauchy", "cauchy"),
    ("sum(sqrt(1 + (X w - y) .^ 2) - 1)", "w", "X: N×n, w: n, y: N",
     "X^T ((X w - y) ./ sqrt(1 + (X w - y) .^ 2))", "ROBUST pseudo-Huber", "pseudo-huber"),
    ("δ^2*(sqrt(1 + (t/δ)^2) - 1)", "t", "t: scalar, δ: scalar",
     "t/sqrt(1 + (t/δ)^2)", "ROBUST pseudo-Huber", "pseudo-huber-scalar"),
    ("sum((X w - y) .^ 2 ./ (c + (X w - y) .^ 2))", "w", "X: N×n, w: n, y: N, c: scalar",
     "2 c X^T ((X w - y) ./ (c + (X w - y) .^ 2) .^ 2)", "ROBUST Geman-McClure",
     "geman-mcclure"),
    ("sum(sqrt((X w - y) .^ 2 + ε))", "w", "X: N×n, w: n, y: N, ε: scalar",
     "X^T ((X w - y) ./ sqrt((X w - y) .^ 2 + ε))", "ROBUST Charbonnier", "charbonnier"),
    ("sum(1 - exp(-0.5*(X w - y) .^ 2))", "w", "X: N×n, w: n, y: N",
     "X^T ((X w - y) .* exp(-0.5 (X w - y) .^ 2))", "ROBUST Welsch", "welsch"),
    # Rayleigh quotients, PCA and LDA (RAYLEIGH, PRML §4.1.4).
    ("x^T A x / (x^T x)", "x", "A: n×n symmetric, x: n",
     "2 (A x - (x^T A x/(x^T x)) x)/(x^T x)", "RAYLEIGH 1.5", "rayleigh"),
    ("x^T A x / (x^T x)", "x", "A: n×n, x: n",
     "((A + A^T) x - 2 (x^T A x/(x^T x)) x)/(x^T x)", "RAYLEIGH 1.5", "rayleigh-general"),
    ("x^T A x / (x^T x)", "A", "A: n×n, x: n", "x x^T/(x^T x)", "RAYLEIGH 1.5",
     "rayleigh-wrt-matrix"),
    ("x^T A x / (x^T B x)", "x", "A: n×n symmetric, B: n×n spd, x: n",
     "2 (A x - (x^T A x/(x^T B x)) B x)/(x^T B x)", "PRML 4.1.4", "generalized-rayleigh"),
    ("(w^T d)^2 / (w^T S w)", "w", "w: n, d: n, S: n×n spd",
     "2 (w^T d) (d - (w^T d/(w^T S w)) S w)/(w^T S w)", "PRML 4.26", "fisher-lda"),
    ("x^T A x / (x^T x)", "x", "A: n×n symmetric, x: n",
     "2 (A - (x^T A x/(x^T x)) eye(n) - 2 ((A - (x^T A x/(x^T x)) eye(n)) x x^T"
     " + x x^T (A - (x^T A x/(x^T x)) eye(n)))/(x^T x))/(x^T x)",
     "RAYLEIGH 1.5: H = 2(A − ρI − x∇ρᵀ − ∇ρxᵀ)/xᵀx", "rayleigh-hessian", 2),
    # Metric learning (METRIC).
    ("(x - y)^T M (x - y)", "M", "x: n, y: n, M: n×n", "(x - y)(x - y)^T", "METRIC Xing",
     "mahalanobis-metric"),
    ("(x - y)^T M (x - y)", "x", "x: n, y: n, M: n×n symmetric", "2 M (x - y)", "METRIC Xing",
     "mahalanobis-metric-point"),
    ("relu(1 + (x - y)^T M (x - y) - (x - z)^T M (x - z))", "M", "x: n, y: n, z: n, M: n×n",
     "step(1 + (x - y)^T M (x - y) - (x - z)^T M (x - z)) ((x - y)(x - y)^T - (x - z)(x - z)^T)",
     "METRIC LMNN", "lmnn-hinge"),
    ("‖L (x - y)‖^2", "L", "x: n, y: n, L: k×n", "2 L (x - y)(x - y)^T", "METRIC LMNN",
     "projected-distance"),
    ("relu(m - ‖x - y‖)", "x", "x: n, y: n, m: scalar",
     "-step(m - ‖x - y‖) (x - y)/‖x - y‖", "METRIC Hadsell", "contrastive-hinge"),
    # Cosine similarity (COS).
    ("a^T b / (‖a‖ ‖b‖)", "a", "a: n, b: n",
     "(b - (a^T b/(a^T a)) a)/(‖a‖ ‖b‖)", "COS 6.10", "cosine-wrt-a"),
    ("a^T b / (‖a‖ ‖b‖)", "b", "a: n, b: n",
     "(a - (a^T b/(b^T b)) b)/(‖a‖ ‖b‖)", "COS 6.10", "cosine-wrt-b"),
    ("x^T y / ‖x‖", "x", "x: n, y: n", "(y - (x^T y/(x^T x)) x)/‖x‖", "COS 6.10",
     "projection-length"),
    # det, tr, abs and sign (MCB §2.1).
    ("det(X^-1)", "X", "X: n×n", "-X^-T/det(X)", "MCB 56", "det-of-inverse"),
    ("log(abs(det(X)))", "X", "X: n×n", "X^-T", "MCB 57", "log-abs-det"),
    ("tr(tr(A) A)", "A", "A: n×n", "2 tr(A) eye(n)", "MCB 2.2", "trace-of-scaled"),
    ("tr(c*A)", "A", "A: n×n, c: scalar", "c eye(n)", "MCB 2.2", "trace-scalar-out"),
    ("1/det(X)", "X", "X: n×n", "-X^-T/det(X)", "MCB 49", "reciprocal-det"),
    ("abs(det(X))", "X", "X: n×n", "abs(det(X)) X^-T", "MCB 49", "abs-det"),
    ("log(det(X)^2)", "X", "X: n×n", "2 X^-T", "MCB 57", "log-det-squared"),
    ("det(X) * det(X^-1)", "X", "X: n×n", "zeros(n, n)", "MCB 18", "det-times-det-inverse"),
    ("tr(X)^2", "X", "X: n×n", "2 tr(X) eye(n)", "MCB 2.2", "trace-squared"),
    ("abs(a^T x)", "x", "a: n, x: n", "sign(a^T x) a", "MCB 2.6", "abs-linear"),
    ("sqrt(x^T x)^2", "x", "x: n", "2 x", "MCB 2.6", "sqrt-squared"),
    ("sqrt(1/(1 + x^T x))", "x", "x: n", "-(1 + x^T x)^(-1.5) x", "MCB 2.6",
     "inverse-sqrt-power"),
    ("(x^T x)^(-0.5)", "x", "x: n", "-x/(x^T x)^1.5", "MCB 2.6", "inverse-norm"),
    # Binary cross-entropy through σ (DL §6.2.2), exp and trigonometric identities.
    ("-(t*log(σ(w^T x)) + (1 - t)*log(1 - σ(w^T x)))", "w", "w: n, x: n, t: scalar",
     "(σ(w^T x) - t) x", "DL 6.2.2", "bce-neuron"),
    ("-(t*log(σ(v^T tanh(W x))) + (1 - t)*log(1 - σ(v^T tanh(W x))))", "v",
     "v: h, W: h×n, x: n, t: scalar", "(σ(v^T tanh(W x)) - t) tanh(W x)", "DL 6.2.2",
     "bce-mlp-output"),
    ("-(t*log(σ(v^T tanh(W x))) + (1 - t)*log(1 - σ(v^T tanh(W x))))", "W",
     "v: h, W: h×n, x: n, t: scalar",
     "(σ(v^T tanh(W x)) - t) (v .* (1 - tanh(W x) .^ 2)) x^T", "DL 6.2.2", "bce-mlp-hidden"),
    ("log(σ(z))", "z", "z: scalar", "1 - σ(z)", "DL 6.2.2", "log-sigmoid"),
    ("log(1 - σ(z))", "z", "z: scalar", "-σ(z)", "DL 6.2.2", "log-one-minus-sigmoid"),
    ("exp(a^T x) * exp(b^T x)", "x", "a: n, b: n, x: n", "exp((a + b)^T x) (a + b)",
     "exp identity", "exp-product"),
    ("cos(t)^2 + sin(t)^2", "t", "t: scalar", "0", "Pythagorean identity", "cos2-plus-sin2"),
]
