"""Small, dependency-free building blocks shared by every domain package."""
