"""A WebDAV server as a channel: Nextcloud, ownCloud, alist/OpenList, Synology, any RFC 4918 server."""
