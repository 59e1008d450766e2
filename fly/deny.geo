# Hand-written bans from [edge].deny_ips: 403 at the edge.
198.51.100.0/24 1;
192.0.2.66 1;
