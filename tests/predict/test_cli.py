"""launch/predict.py: a CSV keeps its own columns and row order; structure files give a row
per frame; failures are counted in the summary."""

import ase.io
import pandas as pd
import pytest
from ase.build import bulk, molecule


def test_csv_of_smiles(multi_export, predict_cli, tmp_path, capsys):
    pd.DataFrame({"id": ["a", "b", "c", "d"], "SMILES": ["CCO", "xx", "c1ccccc1", "yy"],
                  "temperature_K": [300.0, None, 350.0, None]}).to_csv(tmp_path / "in.csv", index=False)
    predict_cli(f"ckpt={multi_export}", f"input={tmp_path / 'in.csv'}", f"output={tmp_path / 'out' / 'p.csv'}",
                "conformers=2")
    out = pd.read_csv(tmp_path / "out" / "p.csv", keep_default_na=False, na_values=[""])
    assert list(out.columns[:4]) == ["id", "SMILES", "temperature_K", "conformers"]
    assert list(out["id"]) == ["a", "b", "c", "d"]
    assert out["bp@boiling_point [K]"].notna().tolist() == [True, False, True, False]
    assert out["error"].fillna("").tolist() == ["", "unparseable SMILES 'xx'", "", "unparseable SMILES 'yy'"]
    printed = capsys.readouterr().out
    assert "read 4 rows" in printed and "predicted 2, failed 2" in printed
    assert "2 x unparseable SMILES '...'" in printed


def test_conditions_reach_the_model(multi_export, predict_cli, tmp_path):
    pd.DataFrame({"smiles": ["CCO", "CCO"], "Temperature_K": [250.0, 400.0]}).to_csv(tmp_path / "in.csv", index=False)
    predict_cli(f"ckpt={multi_export}", f"input={tmp_path / 'in.csv'}", f"output={tmp_path / 'p.csv'}",
                "conformers=1")
    bp = pd.read_csv(tmp_path / "p.csv")["bp@boiling_point [K]"]
    assert abs(bp[0] - bp[1]) > 1e-4


def test_structure_files_a_row_per_frame(multi_export, predict_cli, tmp_path, capsys):
    d = tmp_path / "structures"
    d.mkdir()
    ase.io.write(d / "cu.cif", bulk("Cu", "fcc", a=3.6))
    ase.io.write(d / "POSCAR", bulk("Si", "diamond", a=5.43), format="vasp")
    ase.io.write(d / "two.extxyz", [molecule("H2O"), molecule("CH4")])
    (d / "junk.cif").write_text("not a cif\n")
    predict_cli(f"ckpt={multi_export}", f"input={d}", f"output={tmp_path / 'p.csv'}")
    out = pd.read_csv(tmp_path / "p.csv", keep_default_na=False, na_values=[""])
    assert [p.split("/")[-1] for p in out["file"]] == ["POSCAR", "cu.cif", "junk.cif", "two.extxyz", "two.extxyz"]
    assert out["frame"].tolist()[3:] == [0, 1]
    assert out["structure"].fillna("").tolist() == ["Si2", "Cu", "", "H2O", "CH4"]
    assert out["energy@mlearn [eV]"].notna().tolist() == [True, True, False, False, False]
    assert out["bp@boiling_point [K]"].notna().tolist() == [False, False, False, True, True]
    assert out["error"][2].startswith("ase.io could not read the file")
    assert "predicted 4, failed 1" in capsys.readouterr().out

    predict_cli(f"ckpt={multi_export}", f"input={d / '*.cif'}", f"output={tmp_path / 'glob.csv'}")
    assert [p.split("/")[-1] for p in pd.read_csv(tmp_path / "glob.csv")["file"]] == ["cu.cif", "junk.cif"]


@pytest.mark.parametrize("content, message", [("id,name\n1,x\n", "no 'smiles' or 'formula' column"),
                                              ("smiles,Formula\nC,CH4\n", "both a 'smiles' and a 'formula'")])
def test_table_without_one_input_column(multi_export, predict_cli, tmp_path, content, message):
    (tmp_path / "in.csv").write_text(content)
    with pytest.raises(SystemExit, match=message):
        predict_cli(f"ckpt={multi_export}", f"input={tmp_path / 'in.csv'}", f"output={tmp_path / 'p.csv'}")


def test_smiles_and_formulas_on_the_command_line(multi_export, predict_cli, tmp_path, capsys):
    predict_cli(f"ckpt={multi_export}", "smiles=[CCO,c1ccccc1O,xx]", f"output={tmp_path / 'm.csv'}", "conformers=1")
    out = pd.read_csv(tmp_path / "m.csv", keep_default_na=False, na_values=[""])
    assert out["smiles"].tolist() == ["CCO", "c1ccccc1O", "xx"]
    assert out["bp@boiling_point [K]"].notna().tolist() == [True, True, False]
    assert "from the command line (smiles=)" in capsys.readouterr().out
    predict_cli(f"ckpt={multi_export}", "formulas=[Fe2O3,NaCl]", f"output={tmp_path / 'f.csv'}")
    out = pd.read_csv(tmp_path / "f.csv")
    assert out["formula"].tolist() == ["Fe2O3", "NaCl"] and out["expt_gap@expt_gap [eV]"].notna().all()


def test_a_csv_column_named_otherwise(multi_export, predict_cli, tmp_path):
    pd.DataFrame({"name": ["ethanol", "benzene"], "Structure": ["CCO", "c1ccccc1"],
                  "smiles": ["not used", "not used"]}).to_csv(tmp_path / "in.csv", index=False)
    predict_cli(f"ckpt={multi_export}", f"input={tmp_path / 'in.csv'}", "smiles_column=Structure",
                f"output={tmp_path / 'p.csv'}", "conformers=1")
    out = pd.read_csv(tmp_path / "p.csv", keep_default_na=False, na_values=[""])
    assert out["bp@boiling_point [K]"].notna().all() and out["error"].fillna("").eq("").all()
    assert list(out["Structure"]) == ["CCO", "c1ccccc1"] and list(out["smiles"]) == ["not used"] * 2
    with pytest.raises(SystemExit, match="no column 'SMILES'"):
        predict_cli(f"ckpt={multi_export}", f"input={tmp_path / 'in.csv'}", "smiles_column=SMILES",
                    f"output={tmp_path / 'p.csv'}")
