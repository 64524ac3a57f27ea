"Install findna from the nbdev 2 `settings.ini` (written by hand: no `pkg_resources`, which current setuptools lacks)."
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature',
            '7 - Inactive']
lic = licenses[cfg['license']]
min_python = cfg['min_python']
py_versions = [v for v in '3.10 3.11 3.12 3.13'.split()
               if tuple(map(int, v.split('.'))) >= tuple(map(int, min_python.split('.')))]

# What findna ships beside the code (the demo genome, the pretrained networks): installed under <prefix>/share/findna/,
# where findna.config.shipped_path finds them when findna is not run from a clone.
shipped = [("share/findna", ["data/demo_chr20.fa", "data/demo_chr20.fa.fai", "data/README.md"])] + [
    (f"share/findna/{d.relative_to('data').as_posix()}", sorted(str(f) for f in d.iterdir() if f.is_file()))
    for d in sorted(Path("data/pretrained").iterdir()) if d.is_dir()]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=lic[0],
    keywords=cfg['keywords'].split(),
    url=cfg['git_url'],
    classifiers=['Development Status :: ' + statuses[int(cfg['status']) - 1],
                 'Intended Audience :: ' + cfg['audience'],
                 'License :: ' + lic[1],
                 'Natural Language :: ' + cfg['language'],
                 'Topic :: Scientific/Engineering :: Bio-Informatics']
                + ['Programming Language :: Python :: ' + v for v in py_versions],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    install_requires=cfg.get('requirements', '').split(),
    extras_require={'dev': cfg.get('dev_requirements', '').split()},
    python_requires='>=' + min_python,
    zip_safe=False,
    data_files=shipped,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
