from cookbook.registry import get_registry


def test_reverse_samples_follow_their_rule():
    reverse = get_registry().get("templates", "reverse")
    from cookbook.engine.samples import SampleMaker
    from cookbook.engine.token_spaces import builtin_token_space

    maker = SampleMaker(reverse, "reverse", reverse.resolve(), 0, builtin_token_space("pseudowords"))
    record = maker.record(0)
    assert record["slots"]["answer"].split() == record["slots"]["words"].split()[::-1]
    assert reverse.align(record["slots"], record["slots"]["answer"], reverse.resolve()) == 1.0
