from tests.lms_factories import world  # noqa: F401  (the access tests' shared world)
