"""Load benchmarks. They print figures; they are not tests."""
