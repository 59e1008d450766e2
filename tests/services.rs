//! `boma services`: the table and its JSON form.

use crate::support::{Boma, snapshot};

#[test]
fn table_lists_every_service_of_the_shipped_catalog() {
    let run = Boma::new()
        .shipped("services.toml")
        .args(["services"])
        .run();
    run.success();
    insta::assert_snapshot!(run.stdout, @r"
    SERVICE    HOST      PRIVATE                  PUBLIC              EXPOSURE  IMAGE  BACKUP
    authentik  indri     auth.ops.example.org     -                   private   no     no
    docs       ringtail  -                        docs.example.org    public    no     no
    forge      indri     forge.ops.example.org    forge.example.org   edge      no     yes
    grafana    indri     grafana.ops.example.org  -                   private   no     yes
    landing    ringtail  -                        example.org         public    no     no
    shower     indri     shower.ops.example.org   shower.example.org  edge      yes    yes
    wiki       ringtail  -                        wiki.example.org    public    no     no
    ");
}

#[test]
fn json_rows_carry_the_same_facts() {
    let run = Boma::new()
        .shipped("services.toml")
        .args(["--output", "json", "services"])
        .run();
    run.success();
    snapshot("services__json", &run.stdout);
    let rows = run.json();
    let shower = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["service"] == "shower"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(shower["exposure"], "edge");
    assert_eq!(shower["image"], "forge.example.org/ops/shower");
    assert_eq!(shower["backup"], true);
    assert_eq!(shower["public"][0], "shower.example.org");
}
