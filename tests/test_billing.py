"""The billing side as a specification: the contracts CSV billing gives us, the readings CSV
we give back, and the `ivr db import` / `ivr db export` commands an operator runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agi.readings import billing
from agi.readings.billing import ContractsRejected, RowError, read_contracts, write_readings
from agi.readings.rules import MeterReadings, Register, Resource, Submission, Zone
from agi.storage.models import ContractRow, MeterRow, RegisterRow
from agi.storage.repository import ExportRow, MeterRecord, Repository

HEADER = "resource,contract,meter,digits,zone,previous,average"
PERIOD = "2026-11"


def parse(text: str) -> list[MeterRecord]:
    return read_contracts(io.StringIO(text))


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def snapshot(repo: Repository) -> list[tuple[object, ...]]:
    """Every contract, meter and register, as plain values."""
    with Session(repo.engine) as session:
        return sorted(
            session.execute(
                select(
                    ContractRow.resource,
                    ContractRow.number,
                    MeterRow.serial,
                    MeterRow.position,
                    MeterRow.digits,
                    RegisterRow.zone,
                    RegisterRow.position,
                    RegisterRow.previous,
                    RegisterRow.average,
                )
                .join(MeterRow, MeterRow.contract_id == ContractRow.id)
                .join(RegisterRow, RegisterRow.meter_id == MeterRow.id)
            ).all(),
            key=repr,
        )


def row_counts(repo: Repository) -> tuple[int, int, int]:
    with Session(repo.engine) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (ContractRow, MeterRow, RegisterRow)
        )


# --- reading the contracts CSV -----------------------------------------------------------

GOOD = csv_text(
    "electricity,102057522,E-0001,6,single,11480,150",
    "electricity,123859,E-0002,6,day,44810,240",
    "electricity,123859,E-0002,6,night,23050,130",
    "cold_water,555000,CW-1,5,single,100,",
    "cold_water,555000,CW-2,5,single,,",
)


def test_a_good_file_gives_one_record_per_meter() -> None:
    assert parse(GOOD) == [
        MeterRecord(
            Resource.ELECTRICITY, "102057522", "E-0001", 6, (Register(Zone.SINGLE, 11480, 150),)
        ),
        MeterRecord(
            Resource.ELECTRICITY,
            "123859",
            "E-0002",
            6,
            (Register(Zone.DAY, 44810, 240), Register(Zone.NIGHT, 23050, 130)),
        ),
        MeterRecord(Resource.COLD_WATER, "555000", "CW-1", 5, (Register(Zone.SINGLE, 100),)),
        MeterRecord(Resource.COLD_WATER, "555000", "CW-2", 5, (Register(Zone.SINGLE),)),
    ]


def test_zones_may_come_in_any_order_and_leading_zeros_are_dropped() -> None:
    (record,) = parse(
        csv_text(
            "electricity,777333,E-5,6,night,005600,110",
            "electricity,777333,E-5,6,peak,1200,60",
            "electricity,777333,E-5,6,semipeak,3400,090",
        )
    )
    assert {r.zone: (r.previous, r.average) for r in record.registers} == {
        Zone.PEAK: (1200, 60),
        Zone.SEMIPEAK: (3400, 90),
        Zone.NIGHT: (5600, 110),
    }


def test_the_demo_contracts_are_a_good_file() -> None:
    with Path(billing.__file__).with_name("demo_contracts.csv").open(encoding="utf-8") as stream:
        records = read_contracts(stream)
    assert [(r.resource.value, r.contract, len(r.registers)) for r in records] == [
        ("electricity", "102057522", 1),
        ("electricity", "123859", 2),
        ("hot_water", "123859", 1),
        ("cold_water", "176354", 1),
        ("electricity", "777333", 3),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\ufeff" + GOOD, id="utf8-bom-from-excel"),
        pytest.param(GOOD.replace(",", ";") + ";;;;;;\n", id="semicolons-from-excel"),
        pytest.param(GOOD.replace("\n", "\r\n"), id="windows-line-ends"),
        pytest.param(GOOD + ",,,,,,\n\n , ,\n", id="trailing-empty-rows"),
        pytest.param(
            GOOD.replace(HEADER, HEADER.upper().replace(",", ", ")).replace(
                "electricity,123859", " Electricity , 123859 "
            ),
            id="capitals-and-spaces",
        ),
    ],
)
def test_what_spreadsheets_do_to_a_file_is_accepted(text: str) -> None:
    assert parse(text) == parse(GOOD)


M = "electricity,100,E-1"
ZONES = "a meter has single, or day and night, or peak, semipeak and night"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            csv_text("gas,100,G-1,5,single,1,1"),
            [(2, "resource 'gas' is not one of electricity | hot_water | cold_water")],
            id="unknown-resource",
        ),
        pytest.param(
            csv_text(",100,G-1,5,single,1,1"),
            [(2, "resource is empty; it must be one of electricity | hot_water | cold_water")],
            id="empty-resource",
        ),
        pytest.param(
            csv_text("electricity,12-34,E-1,6,single,1,1"),
            [(2, "contract '12-34' must be digits only")],
            id="non-digit-contract",
        ),
        pytest.param(
            csv_text("electricity,,E-1,6,single,1,1"),
            [(2, "contract is empty")],
            id="empty-contract",
        ),
        pytest.param(
            csv_text("electricity,100,,6,single,1,1"),
            [(2, "meter serial number is empty")],
            id="empty-meter",
        ),
        pytest.param(
            csv_text(f"{M},0,single,1,1"),
            [(2, "digits must be between 1 and 12, not 0")],
            id="digits-zero",
        ),
        pytest.param(
            csv_text(f"{M},13,single,1,1"),
            [(2, "digits must be between 1 and 12, not 13")],
            id="digits-13",
        ),
        pytest.param(
            csv_text(f"{M},,single,1,1"),
            [(2, "digits is empty")],
            id="digits-empty",
        ),
        pytest.param(
            csv_text(f"{M},six,single,1,1"),
            [(2, "digits 'six' must be a whole number without signs or decimals")],
            id="digits-not-a-number",
        ),
        pytest.param(
            csv_text(f"{M},6,evening,1,1"),
            [(2, "zone 'evening' is not one of single | day | night | peak | semipeak")],
            id="unknown-zone",
        ),
        pytest.param(
            csv_text(f"{M},6,single,-5,1"),
            [(2, "previous '-5' must be a whole number without signs or decimals")],
            id="negative-previous",
        ),
        pytest.param(
            csv_text(f"{M},6,single,11480.5,1"),
            [(2, "previous '11480.5' must be a whole number without signs or decimals")],
            id="decimal-previous",
        ),
        pytest.param(
            csv_text(f"{M},4,single,12345,1"),
            [(2, "previous 12345 has 5 digits but the meter shows 4")],
            id="previous-longer-than-the-meter",
        ),
        pytest.param(
            csv_text(f"{M},6,single,1,-1"),
            [(2, "average '-1' must be a whole number without signs or decimals")],
            id="negative-average",
        ),
        pytest.param(
            csv_text(f"{M},6,single,11480,5,150"),
            [(2, "the row has 8 cells but the header has 7 columns")],
            id="decimal-comma-splits-the-row",
        ),
        pytest.param(
            csv_text(f"{M},6"),
            [(2, "zone is empty; it must be one of single | day | night | peak | semipeak")],
            id="short-row",
        ),
        pytest.param(
            csv_text(f"{M},6,day,1,1", f"{M},6,day,2,1", f"{M},6,night,3,1"),
            [(3, "meter E-1 lists zone day twice (first on line 2)")],
            id="same-zone-twice",
        ),
        pytest.param(
            csv_text(f"{M},6,day,1,1"),
            [(2, f"meter E-1 has zones day; {ZONES}")],
            id="day-without-night",
        ),
        pytest.param(
            csv_text(f"{M},6,single,1,1", f"{M},6,day,1,1"),
            [(2, f"meter E-1 has zones day, single; {ZONES}")],
            id="single-and-day",
        ),
        pytest.param(
            csv_text(f"{M},6,peak,1,1", f"{M},6,night,1,1"),
            [(2, f"meter E-1 has zones night, peak; {ZONES}")],
            id="peak-without-semipeak",
        ),
        pytest.param(
            csv_text(f"{M},6,day,1,1", f"{M},5,night,1,1"),
            [(3, "meter E-1 has digits 6 on line 2 but 5 here")],
            id="digits-differ-between-rows",
        ),
        pytest.param(
            csv_text(f"{M},6,single,1", header="resource,contract,meter,digits,zone,previous"),
            [(1, "the header lacks the column average; the first line must be the header")],
            id="header-missing-a-column",
        ),
        pytest.param(
            csv_text(f"{M},6,1,1", header="resource,contract,meter,digits,previous,average"),
            [(1, "the header lacks the column zone; the first line must be the header")],
            id="header-missing-zone",
        ),
        pytest.param(
            f"{M},6,single,1,1\n",
            [(1, "the header lacks the columns resource, contract, meter, digits, zone,")],
            id="no-header-line",
        ),
        pytest.param(
            "",
            [(1, "the file is empty; its first line must be the header " + HEADER)],
            id="empty-file",
        ),
        pytest.param(
            "\ufeff\n",
            [(1, "the file is empty")],
            id="empty-file-with-bom",
        ),
    ],
)
def test_a_bad_row_is_reported_with_its_line(text: str, expected: list[tuple[int, str]]) -> None:
    with pytest.raises(ContractsRejected) as rejected:
        parse(text)
    errors = rejected.value.errors
    assert [error.line for error in errors] == [line for line, _ in expected], errors
    for error, (_, message) in zip(errors, expected, strict=True):
        assert message in error.message
    assert str(rejected.value) == "\n".join(f"line {e.line}: {e.message}" for e in errors)


def test_every_bad_row_is_reported_at_once_in_line_order() -> None:
    text = csv_text(
        "electricity,102057522,E-0001,6,single,11480,150",  # 2 good
        f"{M},6,day,1,1",  # 3 day of E-1 ...
        "gas,200,G-1,5,single,1,1",  # 4 bad resource
        f"{M},5,night,1,1",  # 5 ... with other digits
        "electricity,300,E-3,6,single,1234567,",  # 6 previous too long
        "electricity,400,E-4,6,day,1,1",  # 7 day without night (reported on its line)
        "electricity,x,,0,noon,-1,1.5",  # 8 five problems on one line
    )

    with pytest.raises(ContractsRejected) as rejected:
        parse(text)

    assert [(e.line, e.message.split(" ")[0]) for e in rejected.value.errors] == [
        (4, "resource"),
        (5, "meter"),
        (6, "previous"),
        (7, "meter"),
        (8, "contract"),
        (8, "meter"),
        (8, "digits"),
        (8, "zone"),
        (8, "previous"),
        (8, "average"),
    ]


@pytest.mark.parametrize("good_rows", [1, 2000], ids=["small-file", "beyond-the-first-chunk"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_a_file_that_is_not_utf8_is_refused_with_the_line(good_rows: int, encoding: str) -> None:
    rows = [f"electricity,{1000 + n},E-{n},6,single,1,1" for n in range(good_rows)]
    text = csv_text(*rows, "electricity,100,Счётчик-1,6,single,1,1", f"{M},6,single,1,1")
    stream = io.TextIOWrapper(io.BytesIO(text.encode("cp1251")), encoding=encoding)

    with pytest.raises(ContractsRejected) as rejected:
        read_contracts(stream)

    (error,) = rejected.value.errors
    assert error.line == good_rows + 2
    assert "not UTF-8 text" in error.message and "CSV UTF-8" in error.message


# --- importing into the database ---------------------------------------------------------


def test_import_creates_contracts_meters_and_registers(repository: Repository) -> None:
    assert repository.import_meters(parse(GOOD)) == 4

    assert row_counts(repository) == (3, 4, 5)
    (single,) = repository.find_contracts("102057522", PERIOD)
    assert (single.resource, [m.serial for m in single.meters]) == ("electricity", ["E-0001"])
    assert single.meters[0].registers == (Register(Zone.SINGLE, 11480, 150),)
    (two_zone,) = repository.find_contracts("123859", PERIOD)
    assert two_zone.meters[0].registers == (
        Register(Zone.DAY, 44810, 240),
        Register(Zone.NIGHT, 23050, 130),
    )
    (water,) = repository.find_contracts("555000", PERIOD)
    assert [(m.serial, m.digits, m.registers) for m in water.meters] == [
        ("CW-1", 5, (Register(Zone.SINGLE, 100, None),)),
        ("CW-2", 5, (Register(Zone.SINGLE, None, None),)),
    ]


def test_reimport_updates_without_duplicating(repository: Repository) -> None:
    repository.import_meters(parse(GOOD))
    contract_ids = {c.id for n in ("102057522", "123859") for c in repository.find_contracts(n, "")}

    changed = csv_text(
        "electricity,102057522,E-0001,7,single,11638,160",
        "electricity,123859,E-0002,6,day,45055,250",
        "electricity,123859,E-0002,6,night,23186,",
        "cold_water,555000,CW-2,5,single,220,7",
    )
    repository.import_meters(parse(changed))
    repository.import_meters(parse(changed))

    assert row_counts(repository) == (3, 4, 5)
    assert {c.id for n in ("102057522", "123859") for c in repository.find_contracts(n, "")} == (
        contract_ids
    )
    (single,) = repository.find_contracts("102057522", PERIOD)
    assert (single.meters[0].digits, single.meters[0].registers) == (
        7,
        (Register(Zone.SINGLE, 11638, 160),),
    )
    (two_zone,) = repository.find_contracts("123859", PERIOD)
    assert two_zone.meters[0].registers == (
        Register(Zone.DAY, 45055, 250),
        Register(Zone.NIGHT, 23186, None),
    )
    (water,) = repository.find_contracts("555000", PERIOD)
    assert [(m.serial, m.registers[0].previous) for m in water.meters] == [
        ("CW-1", 100),
        ("CW-2", 220),
    ]


def test_reimport_may_change_the_zones_of_a_meter(repository: Repository) -> None:
    repository.import_meters(parse(GOOD))

    repository.import_meters(
        parse(
            csv_text(
                "electricity,123859,E-0002,6,night,23200,100",
                "electricity,123859,E-0002,6,semipeak,3000,50",
                "electricity,123859,E-0002,6,peak,1000,20",
            )
        )
    )

    (contract,) = repository.find_contracts("123859", PERIOD)
    assert contract.meters[0].registers == (
        Register(Zone.PEAK, 1000, 20),
        Register(Zone.SEMIPEAK, 3000, 50),
        Register(Zone.NIGHT, 23200, 100),
    )
    assert row_counts(repository) == (3, 4, 6)


# --- the readings CSV for billing ---------------------------------------------------------


def submit(repo: Repository, number: str, values: tuple[int, ...], **fields: object) -> None:
    (contract,) = [
        c for c in repo.find_contracts(number, PERIOD) if c.resource == Resource.ELECTRICITY
    ]
    (meter,) = contract.meters
    defaults: dict[str, object] = {
        "channel": "keypad",
        "source_id": f"call-{number}",
        "caller": None,
        "period": PERIOD,
        "received_at": datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Moscow")),
    }
    repo.submit(
        Submission(
            **(defaults | fields),  # type: ignore[arg-type]
            meters=(MeterReadings(meter.id, tuple(zip(meter.zones, values, strict=True))),),
        )
    )


def exported(repo: Repository, period: str = PERIOD) -> str:
    stream = io.StringIO()
    write_readings(repo.export(period), stream)
    return stream.getvalue()


def test_export_writes_one_row_per_zone_of_the_current_submissions(
    demo_repository: Repository,
) -> None:
    submit(demo_repository, "102057522", (16380,), source_id="typo")
    submit(
        demo_repository,
        "102057522",
        (11638,),
        source_id="fix",
        channel="sms",
        received_at=datetime(2026, 11, 21, 0, 30, tzinfo=ZoneInfo("Europe/Moscow")),
    )
    submit(demo_repository, "123859", (45055, 23186))
    submit(demo_repository, "777333", (1250, 3480, 5690), period="2026-10")

    assert exported(demo_repository).splitlines() == [
        "period,resource,contract,meter,zone,value,channel,received_at",
        "2026-11,electricity,102057522,E-0001,single,11638,sms,2026-11-20T21:30:00+00:00",
        "2026-11,electricity,123859,E-0002,day,45055,keypad,2026-11-20T09:00:00+00:00",
        "2026-11,electricity,123859,E-0002,night,23186,keypad,2026-11-20T09:00:00+00:00",
    ]
    october = list(csv.DictReader(io.StringIO(exported(demo_repository, "2026-10"))))
    assert [(r["zone"], r["value"]) for r in october] == [
        ("peak", "1250"),
        ("semipeak", "3480"),
        ("night", "5690"),
    ]
    for row in october:
        moment = datetime.fromisoformat(row["received_at"])
        assert moment == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0


def test_export_of_an_empty_period_is_the_header_alone(demo_repository: Repository) -> None:
    assert exported(demo_repository, "2026-12") == ",".join(billing.EXPORT_COLUMNS) + "\n"


def test_export_takes_a_moment_without_offset_as_utc() -> None:
    row = ExportRow(
        PERIOD, "hot_water", "123859", "HW-0003", "single", 20, "keypad", datetime(2026, 11, 20, 9)
    )
    stream = io.StringIO()
    assert write_readings([row], stream) == 1
    assert stream.getvalue().splitlines()[1].endswith(",2026-11-20T09:00:00+00:00")


# --- the command line -------------------------------------------------------------------


def test_db_import_loads_a_good_file(
    cli: Callable[..., Result], repository: Repository, tmp_path: Path
) -> None:
    path = tmp_path / "contracts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())

    result = cli("db", "import", str(path))

    assert result.exit_code == 0, result.output
    assert "imported 4 meters" in result.stdout
    assert row_counts(repository) == (3, 4, 5)


def test_db_import_of_a_bad_file_imports_nothing(
    cli: Callable[..., Result], demo_repository: Repository, tmp_path: Path
) -> None:
    before = snapshot(demo_repository)
    path = tmp_path / "contracts.csv"
    path.write_text(
        csv_text(
            "electricity,102057522,E-0001,6,single,99999,999",  # would change a meter
            "electricity,900,E-NEW,6,single,1,1",  # would add one
            "electricity,901,E-BAD,6,single,11480.5,1",
            "gas,902,G-1,5,single,1,1",
        ),
        encoding="utf-8",
    )

    result = cli("db", "import", str(path))

    assert result.exit_code != 0
    assert f"{path}: line 4: previous '11480.5' must be a whole number" in result.stderr
    assert f"{path}: line 5: resource 'gas' is not one of" in result.stderr
    assert "2 bad row(s); nothing was imported" in result.stderr
    assert snapshot(demo_repository) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "line 1: the file is empty", id="empty"),
        pytest.param(
            csv_text("electricity,100,Счётчик,6,single,1,1").encode("cp1251"),
            "line 2: this line is not UTF-8 text",
            id="windows-1251",
        ),
    ],
)
def test_db_import_refuses_an_unreadable_file_in_words(
    cli: Callable[..., Result],
    demo_repository: Repository,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    before = snapshot(demo_repository)
    path = tmp_path / "contracts.csv"
    path.write_bytes(content)

    result = cli("db", "import", str(path))

    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(demo_repository) == before


def test_db_export_writes_the_file(
    cli: Callable[..., Result], demo_repository: Repository, tmp_path: Path
) -> None:
    submit(demo_repository, "123859", (45055, 23186))
    out = tmp_path / "readings-2026-11.csv"

    result = cli("db", "export", "--period", PERIOD, str(out))

    assert result.exit_code == 0, result.output
    assert "exported 2 readings of 2026-11" in result.stderr
    assert out.read_text(encoding="utf-8") == exported(demo_repository)
    assert out.read_text(encoding="utf-8").splitlines()[0] == (
        "period,resource,contract,meter,zone,value,channel,received_at"
    )


@pytest.mark.parametrize(
    "period",
    [
        "2026-13",
        "nov",
        "2026-00",
        "11-2026",
        "",
        "2026-1",
    ],
)
def test_db_export_refuses_a_period_that_is_not_a_month(
    cli: Callable[..., Result], repository: Repository, tmp_path: Path, period: str
) -> None:
    out = tmp_path / "out.csv"

    result = cli("db", "export", "--period", period, str(out))

    assert result.exit_code == 2
    assert "write the period as YYYY-MM, e.g. 2026-11" in result.stderr
    assert not out.exists()


def test_row_errors_read_as_lines() -> None:
    assert str(RowError(7, "zone 'evening' is not one of single")) == (
        "line 7: zone 'evening' is not one of single"
    )


# --- phone numbers of contracts ----------------------------------------------------------

PHONES = csv_text(
    "electricity,102057522,E-0001,6,single,11480,150,+7 912 000-00-01",
    'electricity,123859,E-0002,6,day,44810,240,"89120000002, 8 (912) 000-00-03"',
    "electricity,123859,E-0002,6,night,23050,130,+79120000004",
    "hot_water,123859,HW-3,5,single,17,3,",
    header=HEADER + ",phone",
)


def test_phone_numbers_of_all_a_contracts_rows_are_read_in_one_form() -> None:
    assert [(r.contract, r.resource.value, r.phones) for r in parse(PHONES)] == [
        ("102057522", "electricity", ("+79120000001",)),
        ("123859", "electricity", ("+79120000002", "+79120000003", "+79120000004")),
        ("123859", "hot_water", ()),
    ]


def test_without_the_phone_column_phones_are_left_alone(repository: Repository) -> None:
    repository.import_meters(parse(PHONES))
    assert repository.contracts_of_phone("+79120000001") == ["102057522"]
    repository.import_meters(parse(GOOD))
    assert repository.contracts_of_phone("+79120000001") == ["102057522"]
    repository.import_meters(parse(PHONES.replace("+7 912 000-00-01", "")))
    assert repository.contracts_of_phone("+79120000001") == []
    assert repository.contracts_of_phone("+79120000003") == ["123859"]


@pytest.mark.parametrize("phone", ["12", "+7 912 ABC-00-01", "79995551234231"])
def test_a_phone_that_is_no_number_is_refused_with_its_line(phone: str) -> None:
    text = csv_text(
        f"electricity,102057522,E-0001,6,single,11480,150,{phone}", header=HEADER + ",phone"
    )
    with pytest.raises(ContractsRejected) as rejected:
        parse(text)
    (error,) = rejected.value.errors
    assert error.line == 2
    assert f"phone {phone!r} is not a phone number" in error.message


def test_the_contracts_file_is_exported_with_its_phones_and_reads_back_the_same(
    repository: Repository,
) -> None:
    repository.import_meters(parse(PHONES))
    out = io.StringIO()
    billing.write_contracts(repository.meter_records(), out)
    assert out.getvalue().splitlines()[:3] == [
        HEADER + ",phone",
        "electricity,102057522,E-0001,6,single,11480,150,+79120000001",
        "electricity,123859,E-0002,6,day,44810,240,+79120000002;+79120000003;+79120000004",
    ]
    assert read_contracts(io.StringIO(out.getvalue())) == repository.meter_records()


def test_the_demo_contract_has_its_phone(demo_repository: Repository) -> None:
    assert demo_repository.contracts_of_phone("+79120000001") == ["102057522"]
