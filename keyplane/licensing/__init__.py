"""What the licensing resources share: who may see and do what, key strings, input shapes."""
