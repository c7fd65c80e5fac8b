"""The start-up baseline of `python -m benchmarks.cli`: a minimal Typer app (one command, one
sub-app with one command, Rich help), run as `python benchmarks/cli/minimal_app.py --help`."""

import typer

app = typer.Typer(help="A minimal Typer app.", no_args_is_help=True, add_completion=False)
sub = typer.Typer(help="A sub-app.", no_args_is_help=True)
app.add_typer(sub, name="sub")


@app.command()
def hello(name: str = typer.Option("world", help="Whom to greet.")) -> None:
    """Greet someone."""
    typer.echo(f"hello {name}")


@sub.command()
def show(stack: str = typer.Option("dev", help="A stack.")) -> None:
    """Show something."""
    typer.echo(stack)


if __name__ == "__main__":
    app()
