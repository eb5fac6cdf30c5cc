"""The layer under the executor: constants by name, the C ABI of msghdr/cmsghdr/iovec, and libc calls.

``constants`` and ``cmsg`` are pure (they take the platform's word size and architecture as data);
``libc`` is the only module here that calls into the C library.
"""
