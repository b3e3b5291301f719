"""FastAPI with pydantic models over the SQLAlchemy 2 async ORM, one session per request, as its tutorials write it.

No ``from __future__ import annotations`` here: SQLAlchemy and FastAPI read
the annotations at class and route creation.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

POOL_SIZE = 10


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String, unique=True)
    name: Mapped[str] = mapped_column(String)
    qty: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean)


class ItemIn(BaseModel):
    sku: str
    name: str
    qty: int
    price: float
    active: bool


class ItemOut(ItemIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


def app() -> FastAPI:
    url = os.environ["BENCH_URL"].split("?")[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    settings = {"server_settings": {"search_path": os.environ["BENCH_SCHEMA"]}}
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0, connect_args=settings)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def session() -> AsyncIterator[AsyncSession]:
        async with sessions() as opened:
            yield opened

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    served = FastAPI(lifespan=lifespan)

    @served.get("/api/item/{item_id}", response_model=ItemOut)
    async def read(item_id: int, db: AsyncSession = Depends(session)) -> Any:  # noqa: B008 - FastAPI's idiom
        item = await db.get(Item, item_id)
        if item is None:
            raise HTTPException(status_code=404, detail="no such item")
        return item

    @served.post("/api/item", response_model=ItemOut, status_code=201)
    async def create(body: ItemIn, response: Response, db: AsyncSession = Depends(session)) -> Any:  # noqa: B008
        item = Item(**body.model_dump())
        db.add(item)
        await db.commit()
        response.headers["Location"] = f"/api/item/{item.id}"
        return item

    return served
