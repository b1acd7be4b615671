//! OCI image layouts and `docker save` archives, read as an image.
