from fastapi import APIRouter

router = APIRouter(prefix="/test/events", tags=["test events"])
