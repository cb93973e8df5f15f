//! Each Python rule's confidence: its measured precision on real repositories with the
//! Procfile hidden (../shared/corpus and ../shared/wild), smoothed as (right + 1) / (fired + 2)
//! so that a rule seen on two repositories cannot claim 100 %. The table and the commands
//! that produce it are in eval/calibration-python.md; rerun them when a rule changes.
//!
//! `plan::READY_CONFIDENCE` is 0.9: only rules that earned it make a plan `ready`.

/// Django: the WSGI module named in settings, gunicorn in the dependencies.
pub const DJANGO: f32 = 0.95;
/// Django with its server (gunicorn, daphne, uvicorn) missing from the dependencies.
pub const DJANGO_NO_SERVER: f32 = 0.8;
/// Django one directory down (`backend/manage.py`), run with `gunicorn --chdir`: not seen in
/// the data yet, so below the threshold.
pub const DJANGO_BELOW: f32 = 0.7;
/// An ASGI/WSGI app object (`app = Flask(__name__)`) served by a server the repo declares.
pub const APP_OBJECT: f32 = 0.92;
/// A root `wsgi.py` that imports or builds the app: not seen in the data yet.
pub const WSGI_FILE: f32 = 0.8;
/// Flask-SocketIO (`socketio.run(app)`): not seen in the data yet.
pub const SOCKETIO: f32 = 0.7;
/// Dash's `server = app.server`: not seen in the data yet.
pub const DASH: f32 = 0.8;
/// A Flask/FastAPI factory (`def create_app`).
pub const FACTORY: f32 = 0.8;
/// Several files define app objects at the same depth: the pick is a guess.
pub const SEVERAL: f32 = 0.5;
/// The command's server (or framework) is not in the dependencies: it must be added.
pub const SERVER_MISSING: f32 = 0.6;
pub const STREAMLIT: f32 = 0.75;
pub const CHAINLIT: f32 = 0.67;
pub const PANEL: f32 = 0.6;
pub const GRADIO: f32 = 0.6;
/// `python FILE` where FILE serves HTTP itself (`app.run(`, `uvicorn.run(`, `serve_forever`).
pub const SERVING_SCRIPT: f32 = 0.67;
/// `python FILE` for a chat bot (discord.py, python-telegram-bot, aiogram, ...).
pub const BOT: f32 = 0.75;
/// `python FILE` for a scheduler loop.
pub const SCHEDULER: f32 = 0.6;
/// The app file `.flaskenv`'s FLASK_APP names: not seen in the data yet.
pub const FLASK_ENV: f32 = 0.75;
/// A server-named `[project.scripts]` entry.
pub const PROJECT_SCRIPT: f32 = 0.5;
/// Celery worker / beat, RQ worker.
pub const CELERY: f32 = 0.75;
pub const CELERY_BEAT: f32 = 0.7;
pub const RQ: f32 = 0.5;
