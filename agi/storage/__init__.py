"""The readings database: SQLAlchemy models, the repository, the text conversations and the
Alembic migrations. The only package that speaks SQL."""
