from dicomstore.cli.main import app

app(prog_name="dicomstore")
