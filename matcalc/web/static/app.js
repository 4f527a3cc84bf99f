// matcalc's page: read the inputs, ask POST /api/derive (debounced), show the answer.
// No inline script (the server's CSP forbids it); KaTeX renders through the DOM, so its
// inline styles are set by script, which style-src 'self' allows.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["formula", "shapes", "wrt", "mode", "layout", "lang", "symbol", "structure"];
  const URL_KEYS = {formula: "f", shapes: "s", wrt: "wrt", mode: "mode", layout: "layout",
                    lang: "lang", symbol: "sym", structure: "structure"};
  const DEFAULTS = {formula: "(Xθ − y)^T (Xθ − y)", shapes: "X: m×n, θ: n, y: m", wrt: "θ",
                    mode: "derivative", layout: "numerator", lang: "en", symbol: "",
                    structure: ""};
  const PRODUCTS = ["vjp", "jvp", "hvp"];
  const ZH = {
    tagline: "闭式矩阵微积分，在本机运行。", language: "语言", formula: "公式（纯文本或 LaTeX）",
    shapes: "形状", wrt: "对哪个变量求导", mode: "导数", "mode-derivative": "一阶（梯度 / 雅可比）",
    "mode-hessian": "二阶（海森矩阵）", "mode-vjp": "VJP vᵀ(∂f/∂x)", "mode-jvp": "JVP (∂f/∂x)u",
    "mode-hvp": "HVP (∇²f)u", symbol: "新符号", layout: "布局", "layout-numerator": "分子布局",
    "layout-denominator": "分母布局", examples: "示例：", "ex-ls": "最小二乘", "ex-neuron": "神经元",
    "ex-softmax": "softmax 交叉熵", "ex-logdet": "logdet", "ex-hessian": "逻辑回归海森矩阵",
    "ex-tensor": "层的雅可比（张量）", "ex-latex": "LaTeX 输入", parsed: "公式", shape: "形状",
    derivative: "导数", vec: "vec 形式 ∂vec(F)/∂vec(X)ᵀ", "index-sizes": "各指标大小",
    steps: "步骤", code: "代码", copy: "复制", copied: "已复制 ✓",
    footer: "在本机运行：输入的内容不会离开这台机器。排版：KaTeX（MIT 许可）。",
    working: "计算中…", "check-ok": "数值检验通过", "check-bad": "数值检验失败",
    "no-steps": "无法给出步骤", structure: "结构约定", "structure-default": "默认",
    "structure-unconstrained": "无约束（每个元素独立）", "structure-structured": "结构化梯度",
    "structure-entries": "对独立元素求导", "ex-logm": "矩阵对数",
  };
  const EN = {copied: "Copied ✓", copy: "Copy", working: "working…",
              "check-ok": "numerical check passed", "check-bad": "numerical check FAILED",
              "no-steps": "the steps could not be shown"};
  const KINDS_ZH = {gradient: "梯度", jacobian: "雅可比矩阵", derivative: "导数", hessian: "海森矩阵",
                    tensor: "张量", mixed: "混合二阶导数", vjp: "VJP", jvp: "JVP", hvp: "HVP"};
  const englishText = {};
  let backend = "numpy";
  let last = null;
  let seq = 0;
  let timer = null;
  let controller = null;

  function t(key) {
    return ($("lang").value === "zh" ? ZH[key] : (EN[key] || englishText[key])) || key;
  }

  function translatePage() {
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      const key = el.dataset.i18n;
      if (!(key in englishText)) englishText[key] = el.textContent;
      el.textContent = t(key);
    });
    document.documentElement.lang = $("lang").value === "zh" ? "zh" : "en";
  }

  function query() {
    const q = {};
    FIELDS.forEach((k) => { q[k] = $(k).value; });
    if (PRODUCTS.includes(q.mode)) q.structure = "";    // a product has no convention to choose
    return q;
  }

  function setQuery(q) {
    FIELDS.forEach((k) => { if (q[k] !== undefined) $(k).value = q[k]; });
    $("symbol-label").hidden = !PRODUCTS.includes($("mode").value);
    $("structure-label").hidden = PRODUCTS.includes($("mode").value);
  }

  function fromUrl() {
    const p = new URLSearchParams(location.search);
    if (![...p.keys()].length) return DEFAULTS;
    const q = {};
    FIELDS.forEach((k) => { q[k] = p.get(URL_KEYS[k]) || (k === "formula" ? "" : DEFAULTS[k]); });
    if (!p.has("s")) q.shapes = "";
    if (!p.has("wrt")) q.wrt = "";
    return q;
  }

  function toUrl(q) {
    const p = new URLSearchParams();
    FIELDS.forEach((k) => { if (q[k] && q[k] !== DEFAULTS[k] || ["formula", "shapes", "wrt"].includes(k)) p.set(URL_KEYS[k], q[k]); });
    history.replaceState(null, "", "?" + p.toString());
  }

  function tex(el, latex) {
    try {
      katex.render(latex, el, {displayMode: true, throwOnError: false, output: "htmlAndMathml"});
    } catch (e) {
      el.textContent = latex;
    }
  }

  function shapeText(shape) {
    return shape === "scalar" && $("lang").value === "zh" ? "标量" : shape;
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  }

  // The mirror sits under the transparent textarea with the same metrics; a <mark> around
  // the offending characters shows through as the highlight.
  function highlight(field, span) {
    ["formula", "shapes"].forEach((name) => {
      const mirror = $(name + "-mirror");
      const text = $(name).value;
      if (name === field && span) {
        const [a, b] = [Math.min(span[0], text.length), Math.min(Math.max(span[1], span[0] + 1), text.length + 1)];
        const inside = text.slice(a, b) || " ";
        mirror.innerHTML = escapeHtml(text.slice(0, a)) + '<mark class="err-span">' +
          escapeHtml(inside) + "</mark>" + escapeHtml(text.slice(b)) + "\n";
        $(name).setAttribute("aria-invalid", "true");
      } else {
        mirror.textContent = text + "\n";
        $(name).removeAttribute("aria-invalid");
      }
    });
  }

  function show(data) {
    last = data;
    $("status").textContent = "";
    const err = data.error;
    $("error").hidden = !err;
    if (err) {
      $("error-message").textContent = err.type + ": " + err.message + (err.hint ? "  (" + err.hint + ")" : "");
      $("error-caret").textContent = err.caret || "";
      $("error-caret").hidden = !err.caret;
    }
    highlight(err && err.field, err && err.span);
    const f = data.formula;
    $("formula-out").hidden = !f;
    if (f) {
      tex($("formula-math"), f.latex);
      $("formula-shape").textContent = shapeText(f.shape);
    }
    const r = data.result;
    $("result-out").hidden = !r;
    $("steps-out").hidden = !r || !(r.steps.length || r.steps_error);
    $("code-out").hidden = !data.code;
    if (r) {
      tex($("result-math"), r.latex);
      $("result-kind").textContent = $("lang").value === "zh" ? (KINDS_ZH[r.kind] || r.kind) : r.kind;
      $("result-shape").textContent = shapeText(r.shape);
      $("result-unicode").textContent = r.unicode;
      $("vec-out").hidden = !r.vec;
      if (r.vec) {
        tex($("vec-math"), r.vec.latex);
        $("index-sizes").textContent = r.index_sizes.join(", ");
      }
      const steps = $("steps");
      steps.textContent = "";
      r.steps.forEach((s) => {
        const li = document.createElement("li");
        li.textContent = s.replace(/^\d+\.\s*/, "");
        steps.appendChild(li);
      });
      $("steps-error").hidden = !r.steps_error;
      $("steps-error").textContent = r.steps_error ? t("no-steps") + ": " + r.steps_error : "";
      const c = data.check;
      $("check").hidden = !c;
      if (c) {
        $("check").className = "check " + (c.ok ? "ok" : "bad");
        $("check").textContent = (c.ok ? "✓ " + t("check-ok") : "✗ " + t("check-bad")) + " — " + c.text;
      }
    }
    showCode();
  }

  function showCode() {
    document.querySelectorAll(".tab").forEach((b) => {
      b.setAttribute("aria-selected", String(b.dataset.backend === backend));
    });
    $("code").textContent = last && last.code ? last.code[backend] : "";
    $("copy").textContent = t("copy");
  }

  async function update() {
    const q = query();
    toUrl(q);
    $("symbol-label").hidden = !PRODUCTS.includes(q.mode);
    $("structure-label").hidden = PRODUCTS.includes(q.mode);
    const mine = ++seq;
    if (controller) controller.abort();
    controller = new AbortController();
    $("status").textContent = t("working");
    try {
      const res = await fetch("/api/derive", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(q), signal: controller.signal,
      });
      const data = await res.json();
      if (mine === seq) show(data);
    } catch (e) {
      if (e.name !== "AbortError" && mine === seq) {
        $("status").textContent = "";
        show({error: {type: "Error", message: "no answer from the matcalc server (" + e.message + ")"}});
      }
    }
  }

  function later() {
    clearTimeout(timer);
    highlight(null, null);
    timer = setTimeout(update, 250);
  }

  async function copy() {
    const text = $("code").textContent;
    let done = false;
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch (e) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { done = document.execCommand("copy"); } catch (e2) { done = false; }
      area.remove();
    }
    $("copy").textContent = done ? t("copied") : "✗";
    $("copy").dataset.copied = done ? String(text.length) : "";
    setTimeout(() => { $("copy").textContent = t("copy"); }, 2000);
  }

  function syncScroll(name) {
    $(name).addEventListener("scroll", () => {
      $(name + "-mirror").parentElement.scrollTop = $(name).scrollTop;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    translatePage();
    setQuery(fromUrl());
    translatePage();
    ["formula", "shapes", "wrt", "symbol"].forEach((k) => $(k).addEventListener("input", later));
    ["mode", "layout", "structure"].forEach((k) => $(k).addEventListener("change", update));
    $("lang").addEventListener("change", () => { translatePage(); update(); });
    ["formula", "shapes"].forEach(syncScroll);
    ["formula", "shapes"].forEach((k) => $(k).addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {   // one formula: Enter answers at once
        e.preventDefault();
        clearTimeout(timer);
        update();
      }
    }));
    document.querySelectorAll(".example").forEach((b) => b.addEventListener("click", () => {
      setQuery({formula: b.dataset.f, shapes: b.dataset.s, wrt: b.dataset.w,
                mode: b.dataset.m || "derivative", symbol: "", structure: ""});
      update();
    }));
    document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => {
      backend = b.dataset.backend;
      showCode();
    }));
    $("copy").addEventListener("click", copy);
    highlight(null, null);
    update();
  });
})();
