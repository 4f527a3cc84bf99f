"""language: text into a tree with a shape on every node: the parser built from
`grammar/matcalc.lark`, the name rule, and LaTeX input."""
