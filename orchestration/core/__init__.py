"""The shared base every capability may import: the landing area (where verified uploads, their
manifests and quarantine records live on disk, written privately and atomically)."""
