from fastapi import APIRouter

router = APIRouter(prefix="/notebooks", tags=["notebooks"])
