"""calculus: the reverse-mode rule of every operator (`rules.py`), the forward vec rules
(`vecrules.py`), the sweep that applies them (`derive.py`) and the vector–Jacobian, Jacobian–vector
and Hessian–vector products (`products.py`)."""
