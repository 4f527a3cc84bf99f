"""core: expression nodes, sizes, shapes and their rules, constructors, the scalar function table,
limits and errors; it imports nothing else from matcalc."""
