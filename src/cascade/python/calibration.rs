//! Each Python rule's confidence, from its measured precision on real repositories with the
//! Procfile hidden (../shared/wild and ../shared/corpus, `eval --hide-procfile --no-llm`):
//! `smoothed(right, fired)` is (right + 1) / (fired + 2), Laplace's rule of succession, so a
//! rule seen on two repositories cannot claim certainty and a rule never seen starts at 0.5.
//! The table and the commands that produce it: eval/calibration-python.md. Rerun them and
//! update the counts here when a rule changes.
//!
//! `plan::READY_CONFIDENCE` is 0.9: only a rule that fired right about 8 times in 8 or more
//! (and no more than rarely wrong) makes a plan `ready` on its own.

/// (right + 1) / (fired + 2), to two decimals (a plan shows 0.95, not 0.95454544).
const fn smoothed(right: u32, fired: u32) -> f32 {
    let hundredths = ((right + 1) * 100 + (fired + 2) / 2) / (fired + 2);
    hundredths as f32 / 100.0
}

/// Django: the WSGI module named in settings, gunicorn in the dependencies.
pub const DJANGO: f32 = smoothed(20, 20);
/// Django with its server (gunicorn, daphne, uvicorn) missing from the dependencies.
pub const DJANGO_NO_SERVER: f32 = smoothed(3, 3);
/// Django one directory down (`backend/manage.py`), run with `gunicorn --chdir`.
pub const DJANGO_BELOW: f32 = smoothed(0, 0);
/// An ASGI/WSGI app object (`app = Flask(__name__)`, `app = FastAPI()`) served by a server
/// the repository declares.
pub const APP_OBJECT: f32 = smoothed(6, 6);
/// A Flask/FastAPI factory (`def create_app`).
pub const FACTORY: f32 = smoothed(1, 1);
/// Several files define app objects (or framework scripts) at the same depth: a guess.
pub const SEVERAL: f32 = smoothed(1, 2);
/// The command's server (or framework) is not in the dependencies: it must be added.
pub const SERVER_MISSING: f32 = smoothed(1, 1);
/// A root `wsgi.py` that imports or builds the app.
pub const WSGI_FILE: f32 = smoothed(0, 0);
/// The app file `.flaskenv`'s FLASK_APP names.
pub const FLASK_ENV: f32 = smoothed(0, 0);
/// Dash's `server = app.server`.
pub const DASH: f32 = smoothed(0, 0);
/// Flask-SocketIO (`socketio.run(app)`).
pub const SOCKETIO: f32 = smoothed(0, 0);
pub const STREAMLIT: f32 = smoothed(2, 2);
pub const CHAINLIT: f32 = smoothed(1, 1);
pub const PANEL: f32 = smoothed(0, 0);
pub const GRADIO: f32 = smoothed(0, 0);
/// `python FILE` where FILE serves HTTP itself (`app.run(`, `uvicorn.run(`, `serve_forever`).
pub const SERVING_SCRIPT: f32 = smoothed(1, 1);
/// `python FILE` for a chat bot (discord.py, python-telegram-bot, aiogram, ...).
pub const BOT: f32 = smoothed(2, 2);
/// `python FILE` for a loop that serves no HTTP: a scheduler, or a `__main__` block that
/// hands over to a library's `start()` / `run_forever()` (measured on the corpus case
/// without a Procfile, scored in the plain run).
pub const LOOP: f32 = smoothed(1, 1);
/// A server-named `[project.scripts]` entry.
pub const PROJECT_SCRIPT: f32 = smoothed(0, 0);
/// Celery worker / beat, RQ worker.
pub const CELERY: f32 = smoothed(1, 1);
pub const CELERY_BEAT: f32 = smoothed(0, 0);
pub const RQ: f32 = smoothed(0, 0);
