"""JAX in float64 for the tests that compare generated JAX code with r.evaluate to 1e-8: the
generated code no longer switches jax_enable_x64 itself (that is the user's setting), so these
tests switch it on for their duration and restore it afterwards."""
import pytest


@pytest.fixture(autouse=True)
def jax_float64():
    try:
        import jax
    except ImportError:
        yield
        return
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)
