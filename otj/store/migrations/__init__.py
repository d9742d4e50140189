"""Alembic migrations of the otj schema (packaged with otj so ``otj db upgrade`` works anywhere)."""
