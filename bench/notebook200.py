"""The 200-cell notebook of benchmark 6: a sales-forecasting analysis, as people write them.

Sections (markdown headings): setup, loading a CSV, cleaning, helpers, feature engineering
with pandas (most of the cells, with a look at the data every few features), exploration
that leads nowhere (the slice leaves it out), a numpy ridge regression with a model search
(a loop with an ``if``), and a last ``%%track`` cell logging the test metrics. The session
also re-runs cells: three feature cells run twice, and the model-search cells are edited
(the alphas) and run again, as a person does when iterating.

Everything is generated from fixed seeds: the CSV (:func:`write_data`, 20,000 rows, with
missing values and duplicates to clean) and the cells (:func:`cells`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROWS = 20_000
CODE_CELLS = 200
#: What the export of a target variable asks for (the fitted model's coefficients).
TARGET = "weights"


@dataclass
class Cell:
    id: str
    kind: str  # "code" or "markdown"
    source: str


def write_data(folder: Path, rows: int = ROWS) -> Path:
    """``data/sales.csv`` under ``folder``: daily sales of 40 stores in 4 regions."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20261201)
    n = rows
    stores = rng.integers(0, 40, n)
    region = np.array(["north", "south", "east", "west"])[stores % 4]
    price = rng.gamma(4.0, 5.0, n).round(2)
    discount = rng.choice([0.0, 0.05, 0.1, 0.2], n, p=[0.6, 0.2, 0.15, 0.05])
    temp = rng.normal(15, 9, n).round(1)
    promo = rng.random(n) < 0.15
    quantity = rng.poisson(20 + 10 * promo + 40 * discount, n)
    sales = (
        price * quantity * (1 - discount)
        + rng.normal(0, 25, n)
        + 3 * np.maximum(temp - 20, 0)
        + stores * 0.7
    ).round(2)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "store": [f"s{s:02d}" for s in stores],
            "region": region,
            "price": price,
            "quantity": quantity,
            "discount": discount,
            "temp": temp,
            "promo": promo.astype(int),
            "sales": sales,
        }
    )
    frame.loc[rng.choice(n, n // 50, replace=False), "price"] = np.nan
    frame.loc[rng.choice(n, n // 100, replace=False), "discount"] = np.nan
    frame.loc[rng.choice(n, 5, replace=False), "quantity"] = -1
    frame = pd.concat([frame, frame.sample(n // 200, random_state=1)], ignore_index=True)
    path = folder / "data" / "sales.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _features() -> list[str]:
    """Feature cells: each adds a column ``f_*`` to ``df`` (or looks at a few)."""
    out: list[str] = []
    numeric = ["price", "quantity", "discount", "temp"]
    for col in numeric:
        out += [
            f'df["f_{col}_log"] = np.log1p(df["{col}"].clip(lower=0))',
            f'df["f_{col}_sq"] = df["{col}"] ** 2',
            f'df["f_{col}_z"] = zscore(df["{col}"])',
            f'df["f_{col}_rank"] = df["{col}"].rank(pct=True)',
            f'df["f_{col}_store_mean"] = df.groupby("store")["{col}"].transform("mean")',
            f'df["f_{col}_region_mean"] = df.groupby("region")["{col}"].transform("mean")',
            f'df["f_{col}_vs_store"] = df["{col}"] - df["f_{col}_store_mean"]',
            f'df["f_{col}_bin"] = pd.cut(df["{col}"], bins=5, labels=False).astype(float)',
            f'df[[c for c in df.columns if c.startswith("f_{col}")]].describe()',
        ]
    out += [
        'df["f_dow"] = df["date"].dt.dayofweek',
        'df["f_month"] = df["date"].dt.month',
        'df["f_weekend"] = (df["f_dow"] >= 5).astype(int)',
        'df["f_day_of_year"] = df["date"].dt.dayofyear',
        'df["f_season_sin"] = np.sin(2 * math.pi * df["f_day_of_year"] / 365)',
        'df["f_season_cos"] = np.cos(2 * math.pi * df["f_day_of_year"] / 365)',
        'df[["f_dow", "f_month", "f_weekend", "f_season_sin", "f_season_cos"]].head()',
        'df = df.sort_values(["store", "date"]).reset_index(drop=True)',
        'df["f_price_roll7"] = rolling_by_store(df, "price", 7)',
        'df["f_qty_roll7"] = rolling_by_store(df, "quantity", 7)',
        'df["f_qty_roll28"] = rolling_by_store(df, "quantity", 28)',
        'df["f_qty_lag1"] = df.groupby("store")["quantity"].shift(1).fillna(0)',
        'df["f_sales_lag1"] = df.groupby("store")["sales"].shift(1).fillna(0)',
        'df[["f_price_roll7", "f_qty_roll7", "f_qty_lag1"]].describe()',
        'df["f_promo"] = df["promo"].astype(float)',
        'df["f_price_x_discount"] = df["price"] * df["discount"]',
        'df["f_promo_x_discount"] = df["promo"] * df["discount"]',
        'df["f_temp_hot"] = (df["temp"] > 25).astype(int)',
        'df["f_temp_cold"] = (df["temp"] < 0).astype(int)',
        'df["f_effective_price"] = df["price"] * (1 - df["discount"])',
        'df["f_log_effective_price"] = np.log1p(df["f_effective_price"])',
        'df[["f_effective_price", "f_log_effective_price"]].corr()',
        'region_dummies = pd.get_dummies(df["region"], prefix="f_region", dtype=float)',
        "df = pd.concat([df, region_dummies], axis=1)",
        'store_size = df.groupby("store")["quantity"].sum().rank(pct=True)',
        'df["f_store_size"] = df["store"].map(store_size)',
        'df["f_store_promo_rate"] = df.groupby("store")["promo"].transform("mean")',
        'df["f_region_temp_dev"] = df["temp"] - df["f_temp_region_mean"]',
        'df["f_qty_per_price"] = df["quantity"] / (df["price"] + 1)',
        'df["f_price_bucket_mean"] = df.groupby("f_price_bin")["quantity"].transform("mean")',
        'print(sum(c.startswith("f_") for c in df.columns), "features so far")',
        'df["f_weekend_promo"] = df["f_weekend"] * df["promo"]',
        'df["f_month_promo_rate"] = df.groupby("f_month")["promo"].transform("mean")',
        'df["f_dow_mean_qty"] = df.groupby("f_dow")["quantity"].transform("mean")',
        'df["f_store_dow_mean_qty"] = df.groupby(["store", "f_dow"])["quantity"].transform("mean")',
        'df["f_trend"] = (df["date"] - df["date"].min()).dt.days / 365',
        'df.filter(like="f_").isna().sum().sum()',
        'df = df.fillna({c: 0.0 for c in df.columns if c.startswith("f_")})',
    ]
    return out


def _exploration() -> list[str]:
    """Looking around: nothing here feeds the model (the slice drops it)."""
    return [
        'corr = df.filter(like="f_").corrwith(df["sales"]).sort_values()',
        "corr.head(10)",
        "corr.tail(10)",
        'by_region = df.groupby("region")["sales"].agg(["mean", "median", "std"])',
        "by_region",
        'by_month = df.groupby("f_month")["sales"].mean()',
        "by_month.round(1).to_dict()",
        'weekday_share = df.groupby("f_dow")["quantity"].sum() / df["quantity"].sum()',
        "weekday_share.round(3)",
        'top_stores = df.groupby("store")["sales"].sum().nlargest(5)',
        'print("top stores:", ", ".join(top_stores.index))',
        'promo_lift = df.groupby("promo")["quantity"].mean()',
        "promo_lift.iloc[1] / promo_lift.iloc[0]",
        'outliers = df[np.abs(df["f_quantity_z"]) > 3]',
        'print(len(outliers), "outliers")',
        'pivot = df.pivot_table(index="region", columns="f_month", values="sales", aggfunc="mean")',
        "pivot.round(0)",
        'hist = np.histogram(df["sales"], bins=20)',
        "hist[0]",
        'sample = df.sample(500, random_state=SEED)[["price", "quantity", "sales"]]',
        "sample.describe()",
    ]


def _model() -> list[str]:
    return [
        'FEATURES = sorted(c for c in df.columns if c.startswith("f_"))',
        "len(FEATURES)",
        "X = df[FEATURES].to_numpy(dtype=float)",
        'y = df["sales"].to_numpy(dtype=float)',
        "X.shape, y.shape",
        "order = rng.permutation(len(df))",
        "n_test = int(len(df) * TEST_FRACTION)",
        "test_idx, train_idx = order[:n_test], order[n_test:]",
        "X_train, X_test = X[train_idx], X[test_idx]",
        "y_train, y_test = y[train_idx], y[test_idx]",
        "mu = X_train.mean(axis=0)\nsd = X_train.std(axis=0) + 1e-9",
        "Xs_train = (X_train - mu) / sd\nXs_test = (X_test - mu) / sd",
        "Xs_train.mean(axis=0)[:5].round(6)",
        "baseline_rmse = rmse(y_test, np.full_like(y_test, y_train.mean()))",
        "baseline_rmse",
        "scores = {}\n"
        "for alpha in ALPHAS:\n"
        "    w = fit_ridge(Xs_train, y_train, alpha)\n"
        "    score = rmse(y_test, Xs_test @ w + y_train.mean())\n"
        "    if score < baseline_rmse:\n"
        "        scores[alpha] = score\n"
        "    else:\n"
        '        print(f"alpha={alpha}: no better than the mean")\n'
        "scores",
        "best_alpha = min(scores, key=scores.get)",
        'print(f"best alpha {best_alpha}: rmse {scores[best_alpha]:.2f}")',
        "weights = fit_ridge(Xs_train, y_train, best_alpha)",
        "pred = Xs_test @ weights + y_train.mean()",
        "test_rmse = rmse(y_test, pred)\ntest_r2 = r2(y_test, pred)",
        'print(f"test rmse {test_rmse:.2f}, r2 {test_r2:.3f}")',
        "importance = pd.Series(np.abs(weights), index=FEATURES).sort_values(ascending=False)",
        "importance.head(10)",
        "residuals = y_test - pred",
        'print("residual mean", residuals.mean().round(3), "std", residuals.std().round(3))',
    ]


SETUP = [
    "import json\nimport math\nfrom pathlib import Path",
    "import numpy as np\nimport pandas as pd",
    'DATA_DIR = Path("data")\nSEED = 7\nTEST_FRACTION = 0.2',
    "ALPHAS = [0.01, 0.1, 1.0, 10.0]",
    "rng = np.random.default_rng(SEED)",
]
LOAD = [
    'raw = pd.read_csv(DATA_DIR / "sales.csv", parse_dates=["date"])',
    "raw.shape",
    "raw.head()",
    "raw.dtypes",
    "raw.describe()",
    "raw.isna().sum()",
    'raw["store"].value_counts().head()',
    'raw["region"].unique().tolist()',
]
CLEAN = [
    "df = raw.copy()",
    'df["price"] = df["price"].fillna(df["price"].median())',
    'df["discount"] = df["discount"].fillna(0.0)',
    'df = df.drop_duplicates(subset=["id"])',
    'df = df[df["quantity"] >= 0].reset_index(drop=True)',
    'df["temp"] = df["temp"].clip(-20, 45)',
    'print(len(df), "rows after cleaning")',
    "df.isna().sum().sum()",
]
HELPERS = [
    "def zscore(s):\n    return (s - s.mean()) / s.std()",
    "def rolling_by_store(frame, col, window):\n"
    '    return frame.groupby("store")[col].transform(\n'
    "        lambda s: s.rolling(window, min_periods=1).mean()\n"
    "    )",
    "def fit_ridge(X, y, alpha):\n"
    "    n_features = X.shape[1]\n"
    "    A = X.T @ X + alpha * np.eye(n_features)\n"
    "    return np.linalg.solve(A, X.T @ (y - y.mean()))",
    "def rmse(y_true, y_pred):\n    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))",
    "def r2(y_true, y_pred):\n"
    "    ss_res = np.sum((y_true - y_pred) ** 2)\n"
    "    ss_tot = np.sum((y_true - y_true.mean()) ** 2)\n"
    "    return float(1 - ss_res / ss_tot)",
    "zscore(pd.Series([1.0, 2.0, 3.0])).tolist()",
]
TRACK = (
    "%%track ridge -m final_rmse final_r2\n"
    "final_pred = Xs_test @ weights + y_train.mean()\n"
    "final_rmse = rmse(y_test, final_pred)\n"
    "final_r2 = r2(y_test, final_pred)\n"
    'mltrack.log_metric("rmse", final_rmse)\n'
    'mltrack.log_metric("r2", final_r2)'
)


def cells() -> list[Cell]:
    """The notebook: markdown headings and exactly ``CODE_CELLS`` code cells."""
    sections = [
        ("Setup", SETUP),
        ("Load the data", LOAD),
        ("Cleaning", CLEAN),
        ("Helpers", HELPERS),
        ("Features", _features()),
        ("Exploration", _exploration()),
        ("Model", _model()),
    ]
    code_count = sum(len(body) for _, body in sections) + 1  # + the %%track cell
    # pad with more looks at the data (as notebooks have), so there are exactly CODE_CELLS
    extra = CODE_CELLS - code_count
    if extra < 0:
        raise AssertionError(f"{code_count} code cells is more than {CODE_CELLS}")
    looks = [
        f'df.iloc[{k * 97}:{k * 97 + 3}][["store", "price", "quantity"]]' for k in range(extra)
    ]
    sections.insert(6, ("More exploration", looks))
    out: list[Cell] = []
    n = 0
    for title, body in sections:
        out.append(Cell(f"md-{len(out):03d}", "markdown", f"## {title}"))
        for source in body:
            out.append(Cell(f"c{n:03d}", "code", source))
            n += 1
    out.append(Cell(f"md-{len(out):03d}", "markdown", "## Track the model"))
    out.append(Cell(f"c{n:03d}", "code", TRACK))
    return out


def session(notebook: list[Cell]) -> list[tuple[str, str]]:
    """``(cell id, source)`` in the order the session runs them: top to bottom, three
    feature cells re-run, then the alphas edited and the model search re-run, then the
    ``%%track`` cell last."""
    code = [c for c in notebook if c.kind == "code"]
    track = code[-1]
    order = [(c.id, c.source) for c in code[:-1]]
    by_source = {c.source: c for c in code}
    rerun = [s for s in _features() if "_rank" in s][:3]
    order += [(by_source[s].id, s) for s in rerun]
    alphas = next(c for c in code if c.source.startswith("ALPHAS"))
    order.append((alphas.id, "ALPHAS = [0.01, 0.1, 1.0, 10.0, 100.0]"))
    search = next(c for c in code if c.source.startswith("scores = {}"))
    tail = code[code.index(search) : -1]
    order += [(c.id, c.source) for c in tail[:8]]  # search, best alpha, refit, metrics
    order.append((track.id, track.source))
    return order


def write_notebook(notebook: list[Cell], path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    for cell in notebook:
        make = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        made = make(cell.source)
        made["id"] = cell.id
        nb.cells.append(made)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
