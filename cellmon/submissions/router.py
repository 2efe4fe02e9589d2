from fastapi import APIRouter

router = APIRouter(prefix="/submissions", tags=["submissions"])
