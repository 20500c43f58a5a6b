from shared.db.together import together


def test_parameters_are_numbered_on_and_the_last_statement_is_the_main_one():
    sql = together(
        "INSERT INTO a (x, y) VALUES ($1, $2)",
        "UPDATE b SET z = $2 WHERE id = $1",
        "INSERT INTO c (v) VALUES ($1) RETURNING true",
    )
    assert sql == (
        "WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2))\n"
        ", w1 AS (UPDATE b SET z = $4 WHERE id = $3)\n"
        "INSERT INTO c (v) VALUES ($5) RETURNING true"
    )


def test_a_statement_without_parameters_shifts_nothing():
    assert (
        together("DELETE FROM a WHERE done", "SELECT $1::int")
        == "WITH w0 AS (DELETE FROM a WHERE done)\nSELECT $1::int"
    )


def test_one_statement_is_itself():
    assert together("  SELECT $1::int  ") == "SELECT $1::int"
