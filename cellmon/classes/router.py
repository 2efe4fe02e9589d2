from fastapi import APIRouter

router = APIRouter(prefix="/classes", tags=["classes"])
