from fastapi import APIRouter

router = APIRouter(tags=["dashboard"], include_in_schema=False)
