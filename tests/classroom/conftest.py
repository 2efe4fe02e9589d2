from tests.classroom.two_classes import two_classes

__all__ = ["two_classes"]
