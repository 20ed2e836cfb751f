"""What the licensing resources share, below every one of them: who may see and do what, key
strings, input shapes, the words for a license's state, the status and heartbeat rules, the
machine limit, and the License authentication scheme."""
