"""explain: derivations shown step by step, in English and Chinese (`steps.py`), and the cost
model: multiplications, the best chain order, forward against reverse (`cost.py`)."""
