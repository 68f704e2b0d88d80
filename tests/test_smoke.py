from tests.factories import World, login


def test_login_and_people_list(app, client):
    with app.app_context():
        World()
    assert login(client, "coord").status_code == 302
    r = client.get("/people/")
    assert r.status_code == 200
    assert "李四" in r.text and "赵六" not in r.text
