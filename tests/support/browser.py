"""Headless Chromium (Debian's chromium + chromedriver) for the UI tests (this module holds no tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900")


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """One headless browser (a test module's ``browser`` fixture yields it)."""
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, css: str):
    return WebDriverWait(driver, WAIT_S).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def run_sql(driver, base: str, sql: str) -> None:
    """Type ``sql`` into the SQL tab and run it (the result lands in #sql-result)."""
    driver.get(base + "/sql")
    box = wait(driver, "#sql-q")
    box.clear()
    box.send_keys(sql)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
