"""Content-addressed blob storage for evidence: the interface, and the local-directory backend.

The S3-compatible backend lives in `odr.storage.blobs.s3` (import it where it is configured:
it needs aiobotocore).
"""

from odr.storage.blobs.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStore,
    RangeNotSatisfiable,
    StoredBlob,
    TooLarge,
    UploadBusy,
    UploadNotFound,
    UploadOffsetMismatch,
    content_key,
)
from odr.storage.blobs.local import LocalBlobStore

__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "BlobStore",
    "LocalBlobStore",
    "RangeNotSatisfiable",
    "StoredBlob",
    "TooLarge",
    "UploadBusy",
    "UploadNotFound",
    "UploadOffsetMismatch",
    "content_key",
]
