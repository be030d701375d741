"""`rima sign MODEL --key-file KEY`: sign a saved model so that `rima score` and `rima serve`
can require a trusted key (`--trusted-key`)."""

import click


@click.command("sign")
@click.argument("model_path", required=False, type=click.Path(dir_okay=False))
@click.option("--key-file", type=click.Path(dir_okay=False), required=True,
              help="Ed25519 private key (PEM) or HMAC secret file.")
@click.option("--new-key", type=click.Choice(["ed25519", "hmac-sha256"]), default=None,
              help="First write a new key to --key-file (Ed25519: also KEY.pub, the public "
                   "key to give to whoever verifies).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the signed model here instead of in place.")
def command(model_path, key_file, new_key, out):
    """Sign MODEL (model.json) with a key; the signature covers every field of the file."""
    from rima.model_file import sign
    from rima.signing import new_key as make_key
    from rima.signing import read_key

    if new_key:
        for p in make_key(new_key, key_file):
            click.echo(f"wrote {p}")
    if model_path is None:
        if not new_key:
            raise click.UsageError("give the MODEL to sign (or --new-key to make a key)")
        return
    key = read_key(key_file)
    dst = sign(model_path, key, out)
    click.echo(f"signed {dst} ({key.algorithm}, key {key.key_id})")
