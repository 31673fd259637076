"""What a rule reads of its forward, from its code (sg_scalar.reads.rule_reads)."""

from __future__ import annotations

from typing import Any

from sg_scalar.reads import rule_reads


def test_a_rule_reads_the_parameters_its_code_loads() -> None:
    def relu_like(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g * (out > 0),)

    def add_like(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
        return g, g

    def product(g: Any, out: Any, a: Any, b: Any, c: Any = None, *, flag: bool = False) -> Any:
        return g * b, g * a, None if c is None else g

    assert rule_reads(relu_like) == (True, (False,))
    assert rule_reads(add_like) == (False, (False, False))
    assert rule_reads(product) == (False, (True, True, True))


def test_a_parameter_read_by_a_nested_function_or_comprehension_is_read() -> None:
    def nested(g: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
        scale = lambda v: v * x  # noqa: E731
        scaled = [g * y for _ in range(1)]  # y read inside the comprehension only
        return scale(g), scaled[0]

    assert rule_reads(nested) == (False, (True, True))


def test_what_the_code_cannot_tell_counts_as_read() -> None:
    def varargs(g: Any, out: Any, *inputs: Any) -> tuple[Any, ...]:
        return tuple(g for _ in inputs)

    class Rules:
        def method(self, g: Any, out: Any, x: Any) -> tuple[Any]:
            return (g,)

    def through_locals(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (locals()["g"],)

    assert rule_reads(varargs) is None
    assert rule_reads(Rules().method) is None
    assert rule_reads(through_locals) is None
    assert rule_reads(max) is None


def test_a_parameter_read_in_a_fused_store_and_load_or_a_walrus_is_read() -> None:
    # Python 3.13 fuses a store and a load on one line (STORE_FAST_LOAD_FAST); 3.12
    # inlines comprehensions; every version must see these reads
    def comprehension(g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return tuple([x * gi * 2.0 for gi in (g,)])

    def walrus(g: Any, out: Any, x: Any) -> tuple[Any]:
        return ((m := g * 2.0) * x + m,)

    def one_line(g: Any, out: Any, x: Any) -> tuple[Any]:
        m = g * 2.0; return (x * m,)  # noqa: E702  # fmt: skip

    for rule in (comprehension, walrus, one_line):
        assert rule_reads(rule) == (False, (True,)), rule.__name__


def test_a_rule_reaching_its_locals_by_other_ways_counts_as_reading_all() -> None:
    def through_vars(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (vars()["g"],)

    def through_eval(g: Any, out: Any, x: Any) -> tuple[Any]:
        return (eval("g"),)

    assert rule_reads(through_vars) is None
    assert rule_reads(through_eval) is None


def test_asking_about_a_method_keeps_nothing_alive() -> None:
    import gc
    import weakref

    class Hooked:
        def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
            return (g,)

    hooked = Hooked()
    ref = weakref.ref(hooked)
    assert rule_reads(hooked.vjp) is None
    del hooked
    gc.collect()
    assert ref() is None  # no cache holds the method, its object, or what that holds


def test_a_parameter_whose_shape_alone_is_read_is_not_read() -> None:
    def shape_only(g: Any, out: Any, x: Any) -> Any:
        return (g * 0 + x.shape[0] + x.ndim + x.size, out.dtype)

    def shape_then_values(g: Any, out: Any, x: Any) -> Any:
        return (g.reshape(x.shape) * x,)

    def pair_then_shape(g: Any, out: Any, x: Any) -> Any:
        return (g, x.shape)  # 3.13 loads g and x in one instruction

    def method_of_it(g: Any, out: Any, x: Any) -> Any:
        return (x.reshape(g.shape),)  # a method reads the values

    assert rule_reads(shape_only) == (False, (False,))
    assert rule_reads(shape_then_values) == (False, (True,))
    assert rule_reads(pair_then_shape) == (False, (False,))
    assert rule_reads(method_of_it) == (False, (True,))
