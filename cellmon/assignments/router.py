from fastapi import APIRouter

router = APIRouter(prefix="/assignments", tags=["assignments"])
