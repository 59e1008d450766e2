//! One integration-test binary: each module drives the real `boma` executable.

mod support;

mod backup_check;
mod bad_input;
mod caddy_push;
mod caddy_rollback;
mod caddy_serve;
mod caddy_stage;
mod caddy_validate;
mod check;
mod container_build;
mod dns_cloudflare;
mod dns_gandi;
mod dns_import;
mod dns_powerdns;
mod dns_zonefile;
mod dns_zones;
mod edge_host;
mod edge_image;
mod edge_machine;
mod edge_nginx;
mod fly_deploy;
mod fly_secrets;
mod hardening_files;
mod hardening_hosts;
mod hardening_origins;
mod hardening_results;
mod hostile;
mod lab_demo;
mod natural_order;
mod plan_up;
mod render;
mod services;
