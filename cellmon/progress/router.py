from fastapi import APIRouter

router = APIRouter(prefix="/progress", tags=["progress"])
