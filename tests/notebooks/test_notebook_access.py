"""Notebooks hold paths and names only: any signed-in account reads them, staff register them."""

from tests.lms_factories import API, TwoClasses, make_notebook


async def test_any_signed_in_account_reads_notebooks(world: TwoClasses) -> None:
    notebook = await make_notebook(world.instructor)
    for path in ("/notebooks", f"/notebooks/{notebook['id']}"):
        assert await world.statuses("GET", path) == {
            "admin": 200,
            "instructor": 200,
            "other_instructor": 200,
            "student": 200,
            "anonymous": 401,
        }, path


async def test_only_staff_register_notebooks(world: TwoClasses) -> None:
    body = {"path": "lessons/mine.ipynb"}
    denied = await world.statuses("POST", "/notebooks", body, ("student", "anonymous"))
    assert denied == {"student": 403, "anonymous": 401}
    assert (await world.admin.get(f"{API}/notebooks")).json() == []
    assert (await world.other_instructor.post(f"{API}/notebooks", json=body)).status_code == 201
